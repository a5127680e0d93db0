//! CTC decoding of the recogniser's per-frame class probabilities: greedy for free text, and a
//! Viterbi constrained to a fixed-length template for the MRZ.

/// Greedy decoding: the most likely class per frame, repeats collapsed, blanks (class 0)
/// dropped. Returns the text and the mean probability of the kept characters.
pub fn greedy(probs: &[f32], classes: usize, dict: &[char]) -> (String, f32) {
    let mut text = String::new();
    let (mut sum, mut n) = (0.0f32, 0u32);
    let mut prev = 0usize;
    for frame in probs.chunks_exact(classes) {
        let (best, p) = frame.iter().enumerate().fold((0, f32::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
        if best != 0
            && best != prev
            && let Some(&c) = dict.get(best)
        {
            text.push(c);
            sum += p;
            n += 1;
        }
        prev = best;
    }
    (text, if n == 0 { 0.0 } else { sum / n as f32 })
}

/// A line decoded to a template.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixed {
    pub text: String,
    /// Sum of the log-probabilities of the best path.
    pub log_prob: f32,
    /// Per character, its highest probability over the frames that emit it.
    pub char_probs: Vec<f32>,
}

const NEG: f32 = f32::NEG_INFINITY;

/// The most likely CTC path that emits exactly `template.len()` characters, character k taken
/// from the set `template[k]` (bit i = `alphabet[i]`). `logp` holds, per frame, the log-probability
/// of the blank followed by those of the alphabet's characters. `None` when there are too few
/// frames to spell the line.
pub fn fixed_length(logp: &[Vec<f32>], alphabet: &[u8], template: &[u64]) -> Option<Fixed> {
    let (t_len, l, a) = (logp.len(), template.len(), alphabet.len());
    if l == 0 || t_len < l || a > 64 {
        return None;
    }
    let allowed = |k: usize, c: usize| template[k] >> c & 1 == 1;
    // blank[j]: j characters emitted, now on a blank; chr[k*a + c]: character k is `c`.
    let mut blank = vec![NEG; l + 1];
    let mut chr = vec![NEG; l * a];
    // Back-pointers per frame. Blank: 255 = stayed on a blank, c = came from character c.
    // Character: 255 = repeated, 254 = came from the blank, c = came from character c.
    let mut back_blank = vec![0u8; t_len * (l + 1)];
    let mut back_chr = vec![0u8; t_len * l * a];
    blank[0] = logp[0][0];
    for c in 0..a {
        if allowed(0, c) {
            chr[c] = logp[0][1 + c];
        }
    }
    let mut nb = vec![NEG; l + 1];
    let mut nc = vec![NEG; l * a];
    for t in 1..t_len {
        let frame = &logp[t];
        // The best and second-best character at each position, for "came from another character".
        let tops: Vec<[(f32, usize); 2]> = (0..l)
            .map(|k| {
                let mut top = [(NEG, 0usize); 2];
                for c in 0..a {
                    let v = chr[k * a + c];
                    if v > top[0].0 {
                        top[1] = top[0];
                        top[0] = (v, c);
                    } else if v > top[1].0 {
                        top[1] = (v, c);
                    }
                }
                top
            })
            .collect();
        for j in 0..=l {
            let (mut best, mut from) = (blank[j], 255u8);
            if j > 0 && tops[j - 1][0].0 > best {
                best = tops[j - 1][0].0;
                from = tops[j - 1][0].1 as u8;
            }
            nb[j] = best + frame[0];
            back_blank[t * (l + 1) + j] = from;
        }
        for k in 0..l {
            for c in 0..a {
                let i = k * a + c;
                if !allowed(k, c) {
                    nc[i] = NEG;
                    continue;
                }
                let (mut best, mut from) = (chr[i], 255u8);
                if blank[k] > best {
                    best = blank[k];
                    from = 254;
                }
                if k > 0 {
                    let top = tops[k - 1];
                    let other = if top[0].1 != c { top[0] } else { top[1] };
                    if other.0 > best {
                        best = other.0;
                        from = other.1 as u8;
                    }
                }
                nc[i] = best + frame[1 + c];
                back_chr[(t * l + k) * a + c] = from;
            }
        }
        std::mem::swap(&mut blank, &mut nb);
        std::mem::swap(&mut chr, &mut nc);
    }
    // End on the blank after the last character or on the last character itself.
    let (mut best, mut state) = (blank[l], None);
    for c in 0..a {
        if chr[(l - 1) * a + c] > best {
            best = chr[(l - 1) * a + c];
            state = Some((l - 1, c));
        }
    }
    if best == NEG {
        return None;
    }
    let mut text = vec![b'?'; l];
    let mut char_probs = vec![0.0f32; l];
    let mut blank_at = l;
    for t in (0..t_len).rev() {
        match state {
            None => {
                let from = back_blank[t * (l + 1) + blank_at];
                if t > 0 && from != 255 {
                    state = Some((blank_at - 1, from as usize));
                }
            }
            Some((k, c)) => {
                text[k] = alphabet[c];
                char_probs[k] = char_probs[k].max(logp[t][1 + c].exp());
                if t == 0 {
                    break;
                }
                match back_chr[(t * l + k) * a + c] {
                    255 => {}
                    254 => {
                        state = None;
                        blank_at = k;
                    }
                    b => state = Some((k - 1, b as usize)),
                }
            }
        }
    }
    Some(Fixed { text: String::from_utf8_lossy(&text).into_owned(), log_prob: best, char_probs })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames that spell `path` (one symbol per frame, '-' = blank) with probability 0.9.
    fn frames(path: &str, alphabet: &[u8]) -> Vec<Vec<f32>> {
        path.bytes()
            .map(|s| {
                let mut f = vec![(0.1f32 / alphabet.len() as f32).ln(); alphabet.len() + 1];
                let i = if s == b'-' { 0 } else { 1 + alphabet.iter().position(|&a| a == s).unwrap() };
                f[i] = 0.9f32.ln();
                f
            })
            .collect()
    }

    #[test]
    fn repeats_need_a_blank_and_the_length_is_exact() {
        let alphabet = b"AB<";
        let all = 0b111u64;
        // "A<<B": the two fillers are separated by a blank frame.
        let lp = frames("AA<-<<B-", alphabet);
        let d = fixed_length(&lp, alphabet, &[all; 4]).unwrap();
        assert_eq!(d.text, "A<<B");
        assert!(d.char_probs.iter().all(|&p| (p - 0.9).abs() < 1e-4), "{:?}", d.char_probs);
        // Forcing five characters out of the same frames splits a run rather than failing.
        let five = fixed_length(&lp, alphabet, &[all; 5]).unwrap();
        assert_eq!(five.text.len(), 5);
        assert!(five.log_prob < d.log_prob);
        assert!(fixed_length(&lp[..3], alphabet, &[all; 4]).is_none());
    }

    #[test]
    fn the_template_overrules_a_likelier_character() {
        let alphabet = b"O0";
        // Frame 1 says 'O' (0.9) where the template allows only a digit.
        let lp = frames("-O-", alphabet);
        let d = fixed_length(&lp, alphabet, &[0b10]).unwrap();
        assert_eq!(d.text, "0");
    }

    #[test]
    fn greedy_collapses_repeats_and_drops_blanks() {
        let dict = ['\0', 'A', 'B'];
        let probs: Vec<f32> =
            [[0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]].concat();
        let (text, conf) = greedy(&probs, 3, &dict);
        assert_eq!(text, "AAB");
        assert!((conf - 0.8).abs() < 1e-6);
    }
}
