//! Runs that survive a crash: `nnc run --checkpoint DIR` killed with SIGKILL at moments
//! drawn at random (mid-epoch, mid-write: a temporary checkpoint left behind shows the
//! kill landed inside a write), then `nnc run --resume DIR` until the run ends, must end
//! with the weights and history of the uninterrupted run, byte for byte, whatever
//! `--threads` each piece ran with. And a resume that would train something else is
//! refused, naming what differs.

mod util;

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use rand::{Rng, SeedableRng};

/// A small run that every optimizer state, generator and buffer of a checkpoint matters
/// to: `train` settings after the model.
struct Case {
    name: &'static str,
    model: &'static str,
    train: &'static str,
}

const MLP: &str = "x = input(784)
    h = x |> dense(256) |> relu
    output = h |> dense(10) |> softmax";

const CNN_DROPOUT: &str = "x = input(1, 28, 28)
    c = x |> conv2d(4, 3) |> relu |> maxpool(2)
    output = c |> flatten |> dropout(0.3) |> dense(10) |> softmax";

const CNN_BATCHNORM: &str = "x = input(1, 28, 28)
    c = x |> conv2d(4, 3) |> batchnorm |> relu |> maxpool(2)
    output = c |> flatten |> dense(10) |> softmax";

const CASES: &[Case] = &[
    Case {
        name: "sgd_momentum",
        model: MLP,
        train: "optimizer = sgd(lr = 0.05, momentum = 0.9)\n batch = 16\n epochs = 3\n lr_decay = 0.8",
    },
    Case {
        name: "adam_onecycle",
        model: MLP,
        train: "optimizer = adam(lr = 0.001)\n schedule = onecycle(0.01)\n batch = 16\n epochs = 3",
    },
    Case {
        // 1000 samples in batches of 24: a partial last batch, on a tape (and a dropout
        // generator) of its own.
        name: "dropout_augment",
        model: CNN_DROPOUT,
        train: "optimizer = sgd(lr = 0.05, momentum = 0.9)\n batch = 24\n epochs = 3\n flip = 0.5\n shift = 2",
    },
    Case {
        name: "batchnorm_early_stopping",
        model: CNN_BATCHNORM,
        train: "optimizer = adam(lr = 0.003)\n batch = 20\n epochs = 4\n validation = 0.2\n early_stopping = 1",
    },
];

const SAMPLES: &str = "1000";
/// Steps between checkpoints: often, so that many kills land inside a write.
const EVERY: &str = "4";

fn write_case(dir: &Path, case: &Case) -> PathBuf {
    let path = dir.join(format!("{}.nn", case.name));
    let text = format!(
        "model {} {{\n    {}\n    loss = cross_entropy\n}}\n\ntrain {{\n data = mnist\n seed = 5\n {}\n}}\n",
        case.name, case.model, case.train
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// `nnc` as a child process (killable), reading the shared data quietly.
fn nnc_process(args: &[OsString]) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("nnc"));
    cmd.env(
        "NNC_DATA",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"),
    )
    .env(
        "NNC_CACHE",
        concat!(env!("CARGO_TARGET_TMPDIR"), "/nnc-cache"),
    )
    .args(args)
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    cmd
}

fn os<const N: usize>(args: [&OsStr; N]) -> Vec<OsString> {
    args.iter().map(|a| a.to_os_string()).collect()
}

/// The run record's history without the timings, which no two runs share.
fn history(record: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(record).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut history = json["history"].as_array().unwrap().clone();
    for epoch in &mut history {
        epoch.as_object_mut().unwrap().remove("seconds");
    }
    assert!(!history.is_empty());
    history
}

/// Temporary checkpoint files a kill left in `dir`: the kill came mid-write.
fn leftovers(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                let name = name.to_string_lossy();
                name.starts_with(".checkpoint.safetensors.") && name.ends_with(".tmp")
            })
            .count()
    })
}

#[derive(Default)]
struct Kills {
    kills: usize,
    mid_write: usize,
    /// Kills before the first checkpoint was kept: the run started over.
    before_first: usize,
    /// Torn temporary files the test left itself, as a kill mid-write leaves them.
    planted: usize,
}

fn kill_and_resume(case: &Case, file: &Path, dir: &Path, rng: &mut impl Rng) -> Kills {
    let reference_weights = dir.join("reference.safetensors");
    let started = Instant::now();
    let status = nnc_process(&os([
        "run".as_ref(),
        file.as_os_str(),
        "--samples".as_ref(),
        SAMPLES.as_ref(),
        "--save".as_ref(),
        reference_weights.as_os_str(),
        "--threads".as_ref(),
        "2".as_ref(),
    ]))
    .status()
    .unwrap();
    assert!(
        status.success(),
        "{}: the uninterrupted run failed",
        case.name
    );
    let duration = started.elapsed();
    // Checkpointing itself changes nothing, and takes its time: the kills are drawn
    // over this run's length.
    let timed = dir.join("timed");
    let started = Instant::now();
    let status = nnc_process(&os([
        "run".as_ref(),
        file.as_os_str(),
        "--samples".as_ref(),
        SAMPLES.as_ref(),
        "--checkpoint".as_ref(),
        timed.join("checkpoints").as_os_str(),
        "--checkpoint-every".as_ref(),
        EVERY.as_ref(),
        "--save".as_ref(),
        timed.join("weights.safetensors").as_os_str(),
    ]))
    .status()
    .unwrap();
    assert!(
        status.success(),
        "{}: the checkpointed run failed",
        case.name
    );
    let checkpointed = started.elapsed();
    assert!(
        std::fs::read(timed.join("weights.safetensors")).unwrap()
            == std::fs::read(&reference_weights).unwrap(),
        "{}: checkpointing changed the weights",
        case.name
    );
    eprintln!(
        "{}: {:.2} s uninterrupted, {:.2} s checkpointed every {EVERY} steps",
        case.name,
        duration.as_secs_f64(),
        checkpointed.as_secs_f64()
    );

    let checkpoints = dir.join("checkpoints");
    let weights = dir.join("weights.safetensors");
    let mut kills = Kills::default();
    let mut attempt = 0i32;
    loop {
        attempt += 1;
        let threads = if rng.random_bool(0.5) { "1" } else { "2" };
        let resuming = checkpoints.join("checkpoint.safetensors").exists();
        let mut args = if resuming {
            os(["run".as_ref(), "--resume".as_ref(), checkpoints.as_os_str()])
        } else {
            os([
                "run".as_ref(),
                file.as_os_str(),
                "--samples".as_ref(),
                SAMPLES.as_ref(),
                "--checkpoint".as_ref(),
                checkpoints.as_os_str(),
                "--checkpoint-every".as_ref(),
                EVERY.as_ref(),
                "--save".as_ref(),
                weights.as_os_str(),
            ])
        };
        args.extend(os(["--threads".as_ref(), threads.as_ref()]));
        let mut child = nnc_process(&args).spawn().unwrap();
        // Five kills at most, each at a moment drawn over what is left of the run (about:
        // each resume has less to do).
        if attempt <= 5 {
            let left = 0.75f64.powi(attempt - 1);
            let at = checkpointed.mul_f64(rng.random_range(0.1..0.95) * left);
            std::thread::sleep(at);
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                child.wait().unwrap();
                kills.kills += 1;
                let torn = leftovers(&checkpoints) > 0;
                kills.mid_write += usize::from(torn);
                let kept = checkpoints.join("checkpoint.safetensors");
                if !torn && attempt == 1 && kept.exists() {
                    // What a kill inside a write leaves, in case no kill landed in one: the
                    // last checkpoint whole beside half of the next in a temporary file.
                    let bytes = std::fs::read(&kept).unwrap();
                    std::fs::write(
                        checkpoints.join(".checkpoint.safetensors.planted.tmp"),
                        &bytes[..bytes.len() / 2],
                    )
                    .unwrap();
                    kills.planted += 1;
                }
                kills.before_first +=
                    usize::from(!resuming && !checkpoints.join("checkpoint.safetensors").exists());
                continue;
            }
        }
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}: a run after {} kills failed: {}",
            case.name,
            kills.kills,
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            leftovers(&checkpoints),
            0,
            "a resumed run clears what a kill left"
        );
        break;
    }
    assert!(
        std::fs::read(&weights).unwrap() == std::fs::read(&reference_weights).unwrap(),
        "{}: after {} kills the weights differ from the uninterrupted run's",
        case.name,
        kills.kills
    );
    assert_eq!(
        history(&weights.with_extension("run.json")),
        history(&reference_weights.with_extension("run.json")),
        "{}: the history differs from the uninterrupted run's",
        case.name
    );
    kills
}

#[test]
fn a_run_killed_at_random_moments_and_resumed_ends_with_the_uninterrupted_runs_bits() {
    let seed: u64 = std::env::var("NNC_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("kill moments drawn with NNC_CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut total = Kills::default();
    for case in CASES {
        let dir = tempfile::tempdir().unwrap();
        let file = write_case(dir.path(), case);
        let kills = kill_and_resume(case, &file, dir.path(), &mut rng);
        eprintln!(
            "{}: {} kills ({} mid-write, {} before the first checkpoint, {} torn writes planted), weights and history identical",
            case.name, kills.kills, kills.mid_write, kills.before_first, kills.planted
        );
        total.kills += kills.kills;
        total.mid_write += kills.mid_write;
        total.before_first += kills.before_first;
        total.planted += kills.planted;
    }
    eprintln!(
        "in all: {} kills, {} of them mid-write, {} before a first checkpoint; {} torn writes planted",
        total.kills, total.mid_write, total.before_first, total.planted
    );
    assert!(
        total.kills > 0,
        "no run was ever killed: the test tested nothing"
    );
}

/// A finished checkpointed run in a fresh folder: (folder, model file, checkpoint dir).
fn finished_run(model_text: &str, epochs: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.nn");
    std::fs::write(&file, model_text).unwrap();
    let checkpoints = dir.path().join("ck");
    util::nnc()
        .arg("run")
        .arg(&file)
        .args([
            "--samples",
            "300",
            "--epochs",
            epochs,
            "--quiet",
            "--checkpoint",
        ])
        .arg(&checkpoints)
        .assert()
        .success();
    (dir, file, checkpoints)
}

const SMALL: &str = "let hidden = 16\nmodel m {\n x = input(784)\n output = x |> dense(hidden) |> relu |> dense(10) |> softmax\n loss = cross_entropy\n}\n";

#[test]
fn a_resume_that_would_train_another_model_or_setting_is_refused_naming_the_difference() {
    let (_dir, file, checkpoints) = finished_run(SMALL, "1");
    let refused = |args: &[&str], what: &str| {
        let out = util::nnc()
            .arg("run")
            .args(args)
            .arg("--resume")
            .arg(&checkpoints)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(what), "{args:?}: {stderr}");
    };
    refused(
        &["--set", "hidden=32"],
        "`hidden=32` now, `` when the run started",
    );
    refused(
        &["--epochs", "2"],
        "`--epochs`: `2` now, `1` when the run started",
    );
    refused(&["--samples", "200"], "`--samples`: `200` now, `300`");
    std::fs::write(&file, SMALL.replace("dense(10)", "dense(10)\n")).unwrap();
    refused(&[file.to_str().unwrap()], "first at line 4");
    // The same flags and the file as it was: resumed (nothing left to train).
    std::fs::write(&file, SMALL).unwrap();
    util::nnc()
        .arg("run")
        .arg(&file)
        .args(["--samples", "300", "--epochs", "1", "--quiet", "--resume"])
        .arg(&checkpoints)
        .assert()
        .success();
}

#[test]
fn a_resume_on_changed_data_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    let rows: String = (0..60)
        .map(|i| format!("{},{},{}\n", i % 7, (i * 3) % 5, i % 2))
        .collect();
    std::fs::write(&csv, format!("a,b,label\n{rows}")).unwrap();
    let file = dir.path().join("t.nn");
    std::fs::write(
        &file,
        "model t {\n x = input(2)\n output = x |> dense(2) |> softmax\n loss = cross_entropy\n}\ntrain {\n data = csv(\"t.csv\", label = \"label\")\n epochs = 1\n}\n",
    )
    .unwrap();
    let checkpoints = dir.path().join("ck");
    util::nnc()
        .arg("run")
        .arg(&file)
        .arg("--quiet")
        .arg("--checkpoint")
        .arg(&checkpoints)
        .assert()
        .success();
    std::fs::write(&csv, format!("a,b,label\n9,9,1\n{rows}")).unwrap();
    let out = util::nnc()
        .args(["run", "--resume"])
        .arg(&checkpoints)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("holds other samples than the run was trained on"),
        "{stderr}"
    );
}

#[test]
fn a_checkpoint_folder_in_use_a_missing_one_and_a_torn_file_are_errors_not_panics() {
    let (_dir, file, checkpoints) = finished_run(SMALL, "1");
    let out = util::nnc()
        .arg("run")
        .arg(&file)
        .arg("--checkpoint")
        .arg(&checkpoints)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("already holds a checkpoint (after epoch 1)"),
        "{stderr}"
    );

    let missing = checkpoints.with_file_name("none");
    let out = util::nnc()
        .args(["run", "--resume"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no checkpoint to resume"));

    let path = checkpoints.join("checkpoint.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 7, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let out = util::nnc()
            .args(["run", "--resume"])
            .arg(&checkpoints)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "cut at {cut}: {stderr}");
        assert!(
            stderr.contains("is not a checkpoint nnc can continue from"),
            "cut at {cut}: {stderr}"
        );
    }

    let out = util::nnc()
        .arg("run")
        .arg(&file)
        .args(["--checkpoint-every", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs `--checkpoint DIR`"));
}
