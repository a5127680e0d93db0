//! Photos: the size a header declares, decoding under a pixel budget with EXIF orientation
//! applied, scaling down, and the JPEG encodings Vigil serves (thumbnails, best shots, snapshots).

use bytes::Bytes;
use image::ImageReader;
use std::io::Cursor;
use vigil_domain::media::MediaError;
use vigil_domain::{Error, Result};

/// The side a thumbnail fits in.
pub const THUMB_SIDE: u32 = 256;

/// The size an image's header declares, read without decoding any pixel.
pub fn dimensions(bytes: &[u8], what: &str) -> Result<(u32, u32), MediaError> {
    let corrupt = |e: &dyn std::fmt::Display| MediaError::Corrupt(what.to_string(), e.to_string());
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| corrupt(&e))?;
    if reader.format().is_none() {
        return Err(MediaError::NotImage(what.to_string()));
    }
    reader.into_dimensions().map_err(|e| corrupt(&e))
}

/// Scales an image down to fit `max_side` (never up), keeping the aspect ratio.
pub fn fit(img: image::DynamicImage, max_side: u32) -> image::DynamicImage {
    if img.width().max(img.height()) <= max_side {
        return img;
    }
    img.resize(max_side, max_side, image::imageops::FilterType::Triangle)
}

/// Decodes an image with EXIF orientation applied and the pixel count bounded (decompression
/// bombs are refused before any pixel is allocated). `what` names the file in errors.
pub fn decode(bytes: &[u8], max_pixels: u64, what: &str) -> Result<image::DynamicImage, MediaError> {
    use image::ImageDecoder;
    let corrupt = |e: &dyn std::fmt::Display| MediaError::Corrupt(what.to_string(), e.to_string());
    let (w, h) = dimensions(bytes, what)?;
    if u64::from(w) * u64::from(h) > max_pixels {
        return Err(MediaError::TooManyPixels { what: what.to_string(), width: w, height: h, limit: max_pixels });
    }
    let mut decoder = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| corrupt(&e))?
        .into_decoder()
        .map_err(|e| corrupt(&e))?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(|e| corrupt(&e))?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// Decodes a stored photo into RGB (for plugins).
pub fn decode_rgb(bytes: &[u8], max_pixels: u64) -> Result<image::RgbImage, MediaError> {
    Ok(decode(bytes, max_pixels, "stored image")?.into_rgb8())
}

/// A JPEG no larger than `THUMB_SIDE`×`THUMB_SIDE` with the aspect ratio kept, never enlarged.
pub fn thumbnail_jpeg(img: &image::DynamicImage) -> Result<Bytes> {
    let thumb = if img.width() > THUMB_SIDE || img.height() > THUMB_SIDE {
        img.thumbnail(THUMB_SIDE, THUMB_SIDE).into_rgb8()
    } else {
        img.to_rgb8()
    };
    jpeg(&thumb)
}

/// Encodes RGB pixels as a JPEG (quality 85). `jpeg-encoder` rather than the `image` crate's
/// encoder: about three times faster, and a best shot is encoded on every analysis.
pub fn jpeg(img: &image::RgbImage) -> Result<Bytes> {
    let (w, h) = (u16::try_from(img.width()), u16::try_from(img.height()));
    let (Ok(w), Ok(h)) = (w, h) else {
        return Err(Error::value(format!("{}×{} is too large for a JPEG", img.width(), img.height())));
    };
    let mut out = Vec::with_capacity(img.as_raw().len() / 8);
    jpeg_encoder::Encoder::new(&mut out, 85)
        .encode(img.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(Error::internal)?;
    Ok(Bytes::from(out))
}

/// Makes a JPEG thumbnail that fits `THUMB_SIDE`×`THUMB_SIDE` with the aspect ratio kept, never
/// enlarged. Returns the oriented size of the original.
pub fn make_thumbnail(bytes: &[u8], max_pixels: u64, field: &str) -> Result<(u32, u32, Bytes)> {
    let img = decode(bytes, max_pixels, &format!("file '{field}'"))?;
    Ok((img.width(), img.height(), thumbnail_jpeg(&img)?))
}
