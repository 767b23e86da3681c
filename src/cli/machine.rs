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
}
