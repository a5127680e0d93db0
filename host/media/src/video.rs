//! Videos through an `ffmpeg` subprocess: probing, frame sampling, single stills, and the MP4
//! preview rebuilt from a shots set. Each run has a wall-clock timeout (the process is killed),
//! an address-space and CPU-time limit through `prlimit`, and a cap on what it may print.
//! Frames come back as PPM on a pipe, so nothing decoded touches the disk; the input is a
//! temporary file because MP4s with the index at the end need a seekable input.

use image::RgbImage;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vigil_domain::media::MediaError;

/// How ffmpeg may be run and what it may produce.
#[derive(Debug, Clone)]
pub struct VideoLimits {
    pub timeout: Duration,
    /// Address space of the subprocess (bytes).
    pub max_memory: u64,
    /// Frames sampled per second of video, before the frame cap spreads them out.
    pub sample_fps: f32,
    /// At most this many frames per video; long videos are sampled more sparsely.
    pub max_frames: usize,
    /// Frames are scaled down to fit this side (aspect kept).
    pub max_side: u32,
    pub ffmpeg: String,
    pub ffprobe: String,
}

impl Default for VideoLimits {
    fn default() -> Self {
        VideoLimits {
            timeout: Duration::from_secs(30),
            max_memory: 2 << 30,
            sample_fps: 5.0,
            max_frames: 25,
            max_side: 1280,
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
        }
    }
}

/// What ffprobe says of a video's first video stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub width: u32,
    pub height: u32,
    pub duration_secs: Option<f64>,
    pub codec: String,
}

/// Writes `bytes` to a temporary file that is removed when the returned guard drops.
pub fn temp_input(bytes: &[u8], ext: &str) -> Result<tempfile::NamedTempFile, MediaError> {
    let io = |e: std::io::Error| MediaError::VideoUnreadable(format!("temporary file: {e}"));
    let mut f = tempfile::Builder::new().prefix("vigil-media-").suffix(&format!(".{ext}")).tempfile().map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.flush().map_err(io)?;
    Ok(f)
}

/// Runs a tool under the limits and returns its stdout (at most `max_out` bytes).
async fn run(
    tool: &str,
    args: &[String],
    stdin: Option<Vec<u8>>,
    max_out: u64,
    lim: &VideoLimits,
) -> Result<Vec<u8>, MediaError> {
    let unreadable = |m: String| MediaError::VideoUnreadable(m);
    let cpu_secs = lim.timeout.as_secs().max(1) * 2;
    let mut cmd = if which_prlimit() {
        let mut c = tokio::process::Command::new("prlimit");
        c.arg(format!("--as={}", lim.max_memory)).arg(format!("--cpu={cpu_secs}")).arg("--").arg(tool);
        c
    } else {
        tokio::process::Command::new(tool)
    };
    cmd.args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| unreadable(format!("{tool} could not be started: {e}")))?;
    let feed = child.stdin.take().zip(stdin).map(|(mut pipe, data)| {
        tokio::spawn(async move {
            // A broken pipe means ffmpeg gave up; its exit status tells why.
            let _ = pipe.write_all(&data).await;
        })
    });
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut stdout = child.stdout.take().ok_or_else(|| unreadable("no stdout".into()))?.take(max_out + 1);
    let mut stderr = child.stderr.take().ok_or_else(|| unreadable("no stderr".into()))?.take(64 << 10);
    let work = async {
        let (a, b) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        a.and(b).map_err(|e| unreadable(e.to_string()))?;
        child.wait().await.map_err(|e| unreadable(e.to_string()))
    };
    let status = match tokio::time::timeout(lim.timeout, work).await {
        Ok(s) => s?,
        Err(_) => return Err(MediaError::Timeout("video".into(), lim.timeout.as_secs())),
    };
    if let Some(f) = feed {
        f.abort();
    }
    if out.len() as u64 > max_out {
        return Err(unreadable(format!("{tool} produced more than {max_out} bytes")));
    }
    if !status.success() {
        let text = String::from_utf8_lossy(&err);
        let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim();
        tracing::info!(tool, %status, message = %last, "media tool failed");
        return Err(unreadable(format!("{} failed: {}", tool_name(tool), scrub_paths(last, args))));
    }
    Ok(out)
}

/// The tool's file name, not where it is installed.
fn tool_name(tool: &str) -> &str {
    tool.rsplit('/').next().unwrap_or(tool)
}

/// Clients see the tool's message without the server's file paths: every argument that is a path
/// becomes `input`.
fn scrub_paths(message: &str, args: &[String]) -> String {
    let mut m = message.to_string();
    for a in args.iter().filter(|a| a.starts_with('/')) {
        m = m.replace(a.as_str(), "input");
    }
    // Anything else that looks like an absolute path to a temporary file.
    m.split_whitespace()
        .map(|w| if w.contains("/tmp/") || w.contains("vigil-media-") { "input" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Input options that pin what ffmpeg may open: the demuxer the upload was sniffed as (never a
/// guess from the content, which would let a crafted file pick e.g. the HLS or concat demuxer)
/// and only local files and pipes.
fn input_options(path: &Path) -> Vec<String> {
    let demuxer = match path.extension().and_then(|e| e.to_str()) {
        Some("webm") | Some("mkv") => "matroska",
        _ => "mov",
    };
    ["-protocol_whitelist", "file,pipe", "-f", demuxer].iter().map(|s| s.to_string()).collect()
}

fn which_prlimit() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        std::process::Command::new("prlimit")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

/// Size, duration and codec of the first video stream.
pub async fn probe(path: &Path, lim: &VideoLimits) -> Result<Probe, MediaError> {
    let args: Vec<String> = [
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=width,height,codec_name:format=duration",
        "-of",
        "json",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(input_options(path))
    .chain([path.display().to_string()])
    .collect();
    let out = run(&lim.ffprobe, &args, None, 1 << 20, lim).await?;
    let v: serde_json::Value =
        serde_json::from_slice(&out).map_err(|e| MediaError::VideoUnreadable(format!("ffprobe output: {e}")))?;
    let s = v["streams"].get(0).ok_or_else(|| MediaError::VideoUnreadable("no video stream".into()))?;
    let dim = |k: &str| s[k].as_u64().filter(|d| *d > 0).map(|d| d as u32);
    let (Some(width), Some(height)) = (dim("width"), dim("height")) else {
        return Err(MediaError::VideoUnreadable("video stream has no size".into()));
    };
    Ok(Probe {
        width,
        height,
        duration_secs: v["format"]["duration"].as_str().and_then(|d| d.parse().ok()),
        codec: s["codec_name"].as_str().unwrap_or("unknown").to_string(),
    })
}

/// The scale filter that fits frames into `max_side` without enlarging, with even sides.
fn fit(max_side: u32) -> String {
    format!("scale=w='min({max_side},iw)':h='min({max_side},ih)':force_original_aspect_ratio=decrease")
}

/// Frames sampled evenly over the video: `sample_fps`, thinned so that at most `max_frames`
/// cover the whole duration. Rotation metadata is applied by ffmpeg.
pub async fn sample_frames(path: &Path, lim: &VideoLimits) -> Result<Vec<RgbImage>, MediaError> {
    let probe = probe(path, lim).await?;
    let mut fps = f64::from(lim.sample_fps.max(0.01));
    if let Some(d) = probe.duration_secs.filter(|d| *d > 0.0) {
        fps = fps.min(lim.max_frames as f64 / d);
    }
    let filter = format!("fps={fps:.4},{}", fit(lim.max_side));
    frames_with(path, &filter, lim.max_frames, None, lim).await
}

/// One still: the frame at `at_secs` (the first frame when `None`).
pub async fn still(path: &Path, at_secs: Option<f64>, lim: &VideoLimits) -> Result<RgbImage, MediaError> {
    let frames = frames_with(path, &fit(lim.max_side), 1, at_secs, lim).await?;
    frames.into_iter().next().ok_or(MediaError::NoFrames)
}

async fn frames_with(
    path: &Path,
    filter: &str,
    max_frames: usize,
    seek: Option<f64>,
    lim: &VideoLimits,
) -> Result<Vec<RgbImage>, MediaError> {
    let mut args: Vec<String> = vec!["-nostdin".into(), "-v".into(), "error".into(), "-threads".into(), "2".into()];
    if let Some(t) = seek {
        args.extend(["-ss".into(), format!("{:.3}", t.max(0.0))]);
    }
    args.extend(input_options(path));
    args.extend(["-i".into(), path.display().to_string(), "-an".into(), "-vf".into(), filter.to_string()]);
    args.extend(["-frames:v".into(), max_frames.to_string(), "-f".into(), "image2pipe".into()]);
    args.extend(["-c:v".into(), "ppm".into(), "-".into()]);
    let side = u64::from(lim.max_side);
    let max_out = (max_frames as u64) * (side * side * 3 + 64);
    let out = run(&lim.ffmpeg, &args, None, max_out, lim).await?;
    let frames = parse_ppm_stream(&out)?;
    if frames.is_empty() {
        return Err(MediaError::NoFrames);
    }
    Ok(frames)
}

/// Splits concatenated binary PPMs (`P6 w h 255\n` + pixels).
fn parse_ppm_stream(mut data: &[u8]) -> Result<Vec<RgbImage>, MediaError> {
    let bad = |m: &str| MediaError::VideoUnreadable(format!("frame stream: {m}"));
    let mut frames = Vec::new();
    while !data.is_empty() {
        let mut fields = Vec::with_capacity(4);
        let mut pos = 0;
        while fields.len() < 4 {
            while pos < data.len() && data[pos].is_ascii_whitespace() {
                pos += 1;
            }
            let start = pos;
            while pos < data.len() && !data[pos].is_ascii_whitespace() {
                pos += 1;
            }
            if start == pos {
                return Err(bad("truncated header"));
            }
            fields.push(std::str::from_utf8(&data[start..pos]).map_err(|_| bad("header is not text"))?);
        }
        if fields[0] != "P6" || fields[3] != "255" {
            return Err(bad("not an 8-bit PPM"));
        }
        let w: u32 = fields[1].parse().map_err(|_| bad("width"))?;
        let h: u32 = fields[2].parse().map_err(|_| bad("height"))?;
        let len = w as usize * h as usize * 3;
        let body = data.get(pos + 1..pos + 1 + len).ok_or_else(|| bad("truncated pixels"))?;
        frames.push(RgbImage::from_raw(w, h, body.to_vec()).ok_or_else(|| bad("pixel count"))?);
        data = &data[pos + 1 + len..];
    }
    Ok(frames)
}

/// An H.264 MP4 playing `frames` at `fps`, sized like the first frame (even sides, at most
/// `max_side`): the `video_url` of a shots set.
pub async fn encode_preview(frames: &[RgbImage], fps: f32, lim: &VideoLimits) -> Result<Vec<u8>, MediaError> {
    let first = frames.first().ok_or(MediaError::NoFrames)?;
    let scale = (lim.max_side as f32 / first.width().max(first.height()) as f32).min(1.0);
    let even = |v: u32| ((v as f32 * scale) as u32 / 2 * 2).max(2);
    let (w, h) = (even(first.width()), even(first.height()));
    let mut input = Vec::new();
    for f in frames {
        input.extend_from_slice(format!("P6\n{} {}\n255\n", f.width(), f.height()).as_bytes());
        input.extend_from_slice(f.as_raw());
    }
    let out_file = tempfile::Builder::new()
        .prefix("vigil-preview-")
        .suffix(".mp4")
        .tempfile()
        .map_err(|e| MediaError::VideoUnreadable(format!("temporary file: {e}")))?;
    let args: Vec<String> = ["-nostdin", "-v", "error", "-y", "-f", "image2pipe", "-c:v", "ppm", "-framerate"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("{fps}"), "-i".into(), "-".into(), "-vf".into(), format!("scale={w}:{h},format=yuv420p")])
        .chain(
            ["-c:v", "libx264", "-preset", "veryfast", "-movflags", "+faststart", "-f", "mp4"]
                .iter()
                .map(|s| s.to_string()),
        )
        .chain([out_file.path().display().to_string()])
        .collect();
    // Frames go in on stdin; the file is read back after ffmpeg exits.
    run(&lim.ffmpeg, &args, Some(input), 1 << 20, lim).await?;
    tokio::fs::read(out_file.path()).await.map_err(|e| MediaError::VideoUnreadable(format!("preview: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppm_stream_parses_and_rejects_truncation() {
        let mut s = b"P6\n2 1\n255\n".to_vec();
        s.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        s.extend_from_slice(b"P6 1 1 255\n");
        s.extend_from_slice(&[9, 9, 9]);
        let frames = parse_ppm_stream(&s).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].get_pixel(1, 0).0, [4, 5, 6]);
        assert!(parse_ppm_stream(&s[..s.len() - 1]).is_err());
        assert!(parse_ppm_stream(b"P5 1 1 255\n\0").is_err());
    }

    /// A hung decoder is killed at the timeout; one over its memory limit fails cleanly.
    #[tokio::test]
    async fn runaway_decoders_are_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let hung = dir.path().join("hung-ffprobe");
        std::fs::write(&hung, "#!/bin/sh\nsleep 30\n").unwrap();
        std::process::Command::new("chmod").arg("+x").arg(&hung).status().unwrap();
        let input = temp_input(b"whatever", "mp4").unwrap();
        let lim = VideoLimits {
            timeout: Duration::from_millis(300),
            ffprobe: hung.display().to_string(),
            ..VideoLimits::default()
        };
        let t = std::time::Instant::now();
        let e = probe(input.path(), &lim).await.unwrap_err();
        assert_eq!(e.kind(), "decode_timeout", "{e}");
        assert!(t.elapsed() < Duration::from_secs(3), "took {:?}", t.elapsed());
        if which_prlimit() {
            let tiny = VideoLimits { max_memory: 1 << 20, ..VideoLimits::default() };
            let e = probe(input.path(), &tiny).await.unwrap_err();
            assert_eq!(e.kind(), "unreadable_video", "{e}");
        }
        let missing = VideoLimits { ffprobe: "/nonexistent/ffprobe".into(), ..VideoLimits::default() };
        assert_eq!(probe(input.path(), &missing).await.unwrap_err().kind(), "unreadable_video");
    }
}
