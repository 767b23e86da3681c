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
    /// Dense matrix products (`matrixmultiply`), as detected at run time.
    pub matrixmultiply: &'static str,
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
            },
        }
    }

    /// One line for a report's header.
    pub fn describe(&self) -> String {
        format!(
            "{} ({} cores); SIMD: {} element-wise (wide, as compiled), {} dense products \
             (matrixmultiply, detected at run time)",
            self.cpu, self.cores, self.simd.wide, self.simd.matrixmultiply
        )
    }
}

/// The first `model name` line's value (x86 Linux; other systems have none).
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name" && !value.trim().is_empty()).then(|| value.trim().to_owned())
    })
}

/// `Err` with a diagnostic when this binary uses instructions this CPU lacks: it was built
/// for another machine (see [`crate::kernels::features_missing_here`]).
pub fn check_build_fits_cpu() -> Result<(), String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let missing = crate::kernels::features_missing_here(&cpuinfo);
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
        assert_eq!(check_build_fits_cpu(), Ok(()));
        let message = build_mismatch_message(&["avx512f", "avx512bw"]);
        assert!(
            message.starts_with("error: this nnc was compiled for a CPU with AVX512F, AVX512BW"),
            "{message}"
        );
        assert!(message.contains("target-cpu=x86-64-v3"), "{message}");
    }
}
