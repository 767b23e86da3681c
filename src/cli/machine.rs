//! The machine a speed was measured on: the CPU's model name, its logical cores and the
//! SIMD instructions the kernels use (from `kernels::instruction_sets`), printed with
//! `nnc bench`'s figures so they can be read next to where they came from. Machines differ
//! (AMD Zen 3 with AVX2, Intel with AVX-512): a number without its machine misleads.

use serde::Serialize;

/// The CPU and instruction sets behind a benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// The `model name` of `/proc/cpuinfo` (`lscpu`'s "Model name"), or `unknown`.
    pub cpu: String,
    /// Logical cores.
    pub cores: usize,
    pub simd: Simd,
}

/// Which instructions run the arithmetic.
#[derive(Debug, Clone, Serialize)]
pub struct Simd {
    /// Element-wise kernels and nnc's own products (`wide`), as compiled.
    pub wide: &'static str,
    /// `matrixmultiply`'s kernel, as detected at run time (the portable path).
    pub matrixmultiply: &'static str,
    /// Who takes the dense products: nnc's own kernel (`nnc AVX2+FMA`, `nnc AVX-512`),
    /// or `matrixmultiply` on CPUs with neither.
    pub products: &'static str,
}

impl Machine {
    /// This machine.
    pub fn here() -> Machine {
        let sets = crate::kernels::instruction_sets();
        Machine {
            cpu: std::fs::read_to_string("/proc/cpuinfo")
                .ok()
                .and_then(|text| cpu_model(&text))
                .unwrap_or_else(|| "unknown".into()),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            simd: Simd {
                wide: sets.wide,
                matrixmultiply: sets.matrixmultiply,
                products: sets.products,
            },
        }
    }

    /// One line for a report's header.
    pub fn describe(&self) -> String {
        format!(
            "{} ({} cores); SIMD: {} element-wise (wide, as compiled), dense products by {} \
             (detected at run time)",
            self.cpu, self.cores, self.simd.wide, self.simd.products
        )
    }
}

/// The value of the first `key: value` line of `cpuinfo` (the text of `/proc/cpuinfo`)
/// whose key is `key` and whose value is not empty (x86 Linux; other systems have none).
fn cpuinfo_value<'a>(cpuinfo: &'a str, key: &str) -> Option<&'a str> {
    cpuinfo.lines().find_map(|line| {
        let (k, value) = line.split_once(':')?;
        (k.trim() == key && !value.trim().is_empty()).then(|| value.trim())
    })
}

/// The first `model name` line's value.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo_value(cpuinfo, "model name").map(str::to_owned)
}

/// The vector extensions this binary was compiled to use that the CPU of `cpuinfo` lacks,
/// from its `flags` (`is_x86_feature_detected!` cannot tell: it answers "yes" for whatever
/// the build enabled). `.cargo/config.toml` builds for the machine at hand
/// (`target-cpu=native`): a binary built on an Intel Xeon with AVX-512 and copied to an
/// AMD Zen 3 would die of an illegal instruction at its first 512-bit kernel. Only the
/// extensions that tell the two kinds of machine apart are compared, under names the build
/// and cpuinfo share: a false alarm would stop every run.
fn features_missing(cpuinfo: &str) -> Vec<&'static str> {
    let Some(flags) = cpuinfo_value(cpuinfo, "flags") else {
        return Vec::new(); // not x86 Linux: nothing to compare
    };
    let has = |flag: &str| flags.split_whitespace().any(|f| f == flag);
    let compiled_in = [
        (cfg!(target_feature = "avx512f"), "avx512f"),
        (cfg!(target_feature = "avx512bw"), "avx512bw"),
        (cfg!(target_feature = "avx512cd"), "avx512cd"),
        (cfg!(target_feature = "avx512dq"), "avx512dq"),
        (cfg!(target_feature = "avx512vl"), "avx512vl"),
        (cfg!(target_feature = "avx2"), "avx2"),
        (cfg!(target_feature = "fma"), "fma"),
        (cfg!(target_feature = "avx"), "avx"),
    ];
    compiled_in
        .into_iter()
        .filter(|&(used, name)| used && !has(name))
        .map(|(_, name)| name)
        .collect()
}

/// `Err` with a diagnostic when this binary uses instructions this CPU lacks: it was built
/// for another machine ([`features_missing`]). The binary checks this before any kernel
/// runs.
pub fn check_build_fits_cpu() -> Result<(), String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let missing = features_missing(&cpuinfo);
    if missing.is_empty() {
        return Ok(());
    }
    Err(build_mismatch_message(&missing))
}

fn build_mismatch_message(missing: &[&str]) -> String {
    format!(
        "error: this nnc was compiled for a CPU with {}, which this CPU ({}) lacks\n  \
         = note: `cargo build --release` builds for the machine it runs on \
         (`target-cpu=native` in .cargo/config.toml); this binary was built elsewhere\n  \
         = help: rebuild it here, or build one binary for every x86-64 CPU with AVX2 and \
         FMA (AMD Zen 3 and Intel Xeon alike): \
         RUSTFLAGS=\"-C target-cpu=x86-64-v3\" cargo build --release",
        missing
            .iter()
            .map(|f| f.to_uppercase())
            .collect::<Vec<_>>()
            .join(", "),
        Machine::here().cpu,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_name_is_read_from_cpuinfo() {
        let text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel\t\t: 1\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu avx2\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(cpu_model(text).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor : 0\nmodel : 1\n"), None);
        assert_eq!(cpu_model("model name\t:\n"), None);
    }

    #[test]
    fn a_binary_built_for_another_cpu_names_what_is_missing_and_how_to_rebuild() {
        // The test binary runs on the CPU it was built for.
        assert_eq!(check_build_fits_cpu(), Ok(()));
        // A CPU with none of the extensions lacks every one the build uses.
        let bare = "processor\t: 0\nflags\t\t: fpu sse sse2\n";
        let lacking = features_missing(bare);
        assert_eq!(
            lacking.contains(&"avx2"),
            cfg!(target_feature = "avx2"),
            "{lacking:?}"
        );
        assert_eq!(
            lacking.contains(&"avx512f"),
            cfg!(target_feature = "avx512f"),
            "{lacking:?}"
        );
        let message = build_mismatch_message(&["avx512f", "avx512bw"]);
        assert!(
            message.starts_with("error: this nnc was compiled for a CPU with AVX512F, AVX512BW"),
            "{message}"
        );
        assert!(message.contains("target-cpu=x86-64-v3"), "{message}");
    }
}
