//! `nnc bench`: timings without training to convergence. Checks what the report holds,
//! never how fast anything is.

mod util;

use predicates::str::contains;
use util::{json, model, nnc};

#[test]
fn bench_reports_every_batch_and_every_node() {
    let report = json(nnc().arg("bench").arg(model("mnist_sigmoid")).args([
        "--set",
        "hidden=32",
        "--batch",
        "1,8",
        "--seconds",
        "0.2",
        "--json",
    ]));
    for key in [
        "train_samples_per_second",
        "infer_samples_per_second",
        "gflops",
    ] {
        assert!(
            report[key].as_f64().is_some_and(|v| v > 0.0),
            "{key}: {report}"
        );
    }
    let batches = report["batches"].as_array().unwrap();
    assert_eq!(
        batches
            .iter()
            .map(|b| b["batch"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 8]
    );
    for batch in batches {
        let ops = batch["ops"].as_array().unwrap();
        let names: Vec<&str> = ops.iter().map(|o| o["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["x", "h.dense", "h", "output.dense", "output", "(update)"]
        );
        let shares: f64 = ops.iter().map(|o| o["share"].as_f64().unwrap()).sum();
        assert!((shares - 1.0).abs() < 1e-6, "shares add up to {shares}");
        // The dense layers do the products: they must have taken some time.
        assert!(ops[1]["forward_us"].as_f64().unwrap() > 0.0);
    }
    // Where the numbers come from: the CPU and the instruction sets (issue 11).
    assert!(
        report["cpu"].as_str().is_some_and(|c| !c.is_empty()),
        "{report}"
    );
    assert!(report["cores"].as_u64().is_some_and(|c| c >= 1), "{report}");
    for library in ["wide", "matrixmultiply"] {
        assert!(
            report["simd"][library]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "simd.{library}: {report}"
        );
    }
    // The top level repeats the first batch's figures.
    assert_eq!(
        report["train_samples_per_second"],
        batches[0]["train_samples_per_second"]
    );
}

#[test]
fn bench_refuses_a_batch_of_zero_and_a_bad_duration() {
    nnc()
        .arg("bench")
        .arg(model("mnist_sigmoid"))
        .args(["--batch", "0"])
        .assert()
        .code(2)
        .stderr(contains("--batch 0"));
    nnc()
        .arg("bench")
        .arg(model("mnist_sigmoid"))
        .arg("--seconds=-1")
        .assert()
        .code(2)
        .stderr(contains("--seconds"));
}

#[test]
fn the_table_names_the_machine_and_calls_gflops_dense_equivalent() {
    let output = nnc()
        .arg("bench")
        .arg(model("mnist_sigmoid"))
        .args(["--set", "hidden=32", "--batch", "4", "--seconds", "0.1"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).unwrap();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    assert!(
        table.contains(&format!("machine: {cpu} (")),
        "no CPU name in:\n{table}"
    );
    assert!(
        table.contains("element-wise (wide, as compiled)"),
        "{table}"
    );
    assert!(
        table.contains("dense products by nnc AVX2+FMA (detected at run time)")
            || table.contains("dense products by nnc AVX-512 (detected at run time)")
            || table.contains("dense products by matrixmultiply (detected at run time)"),
        "{table}"
    );
    assert!(
        table.contains("train GFLOP/s (dense-equivalent)"),
        "{table}"
    );
}
