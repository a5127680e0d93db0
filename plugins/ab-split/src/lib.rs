//! The built-in A/B rule: a weighted split on the bucket seed.
//!
//! The host hands the experiment's weights in the `weights` setting (comma-separated, in
//! variant order) and a seed that is stable per folder and experiment. The seed is hashed once
//! more and reduced to the total weight, so a folder always lands in the same variant and the
//! shares follow the weights. Without `weights` every variant gets the same share.

use vigil_plugin_sdk::ab_rule::{Guest, PluginError, RouteContext, config};

struct Split;

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn weights(n: usize) -> Result<Vec<u64>, PluginError> {
    let Some(raw) = config::get("weights") else { return Ok(vec![1; n]) };
    let w = raw
        .split(',')
        .map(|s| s.trim().parse::<u64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| PluginError::InvalidInput(format!("weights '{raw}' are not whole numbers")))?;
    if w.len() != n {
        return Err(PluginError::InvalidInput(format!("{} weights for {n} variants", w.len())));
    }
    Ok(w)
}

impl Guest for Split {
    fn choose(ctx: RouteContext) -> Result<String, PluginError> {
        let w = weights(ctx.variants.len())?;
        let total: u64 = w.iter().sum();
        if total == 0 {
            return Err(PluginError::InvalidInput("no variant has a weight above 0".into()));
        }
        // Reduction by multiply-shift: unbiased enough for weights far below 2^32.
        let point = ((u128::from(mix(ctx.bucket_seed)) * u128::from(total)) >> 64) as u64;
        let mut edge = 0;
        for (v, weight) in ctx.variants.iter().zip(&w) {
            edge += weight;
            if point < edge {
                return Ok(v.clone());
            }
        }
        Err(PluginError::Internal("the split fell past the last variant".into()))
    }
}

vigil_plugin_sdk::export_ab_rule!(Split);
