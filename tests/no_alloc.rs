//! A warmed-up training step (forward, backward, optimizer update) allocates nothing of
//! its own. A behaviour test, not a timing test: a counting allocator wraps the system one.
//!
//! At batch 1 every product runs on nnc's own matrix–vector kernels and a step allocates
//! nothing at all. Larger batches go through `matrixmultiply::sgemm`, which allocates its
//! packing buffer inside every call (it has no API to pass one in); so there the test
//! allows at most one allocation per product and none anywhere else.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use nnc::graph::lower::Network;
use nnc::graph::{BuildOptions, build_graph};
use nnc::language::Source;
use nnc::rng::Generator;
use nnc::training::Model;
use nnc::training::optimizer::Optimizer;
use rand::SeedableRng;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; counting has no effect
// on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `dealloc`; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const MODEL: &str = "model m {
    x = input(784)
    a = x |> dense(64) |> sigmoid |> dropout(0.1)
    b = x |> dense(64) |> tanh
    h = concat(a, b) |> dense(64) |> relu
    r = h + (h |> dense(64) |> leaky_relu)
    output = r |> dense(10) |> softmax
    loss = cross_entropy
}
train {
    optimizer = adam(lr = 0.001)
}
";

/// Allocations over 100 warmed-up steps, and the number of matrix products per step.
fn allocations_per_steps(batch: usize, sgd: bool) -> (usize, usize) {
    let source = Source {
        path: "no_alloc.nn".into(),
        text: MODEL.into(),
    };
    let graph = build_graph(&source, &BuildOptions::default()).expect("the test model is valid");
    let mut rng = Generator::seed_from_u64(1);
    let mut model = Model::init(&graph, &mut rng).unwrap();
    let settings = if sgd {
        nnc::graph::OptimizerSettings::Sgd {
            lr: 0.1,
            momentum: 0.9,
        }
    } else {
        graph.train.optimizer
    };
    let mut optimizer = Optimizer::new(settings, &model.params);
    let mut net = Network::record(
        &graph,
        &model.params,
        &model.node_params,
        nnc::autodiff::Tape::new(),
        batch,
        true,
    )
    .unwrap();
    let loss = net.loss.unwrap();
    // Forward one product per matmul node; backward at most two (input and weight).
    let products = (0..net.tape.len())
        .filter(|&i| net.tape.node_name(nnc::autodiff::Var::from_index(i)) == "matmul")
        .count()
        * 3;
    let labels: Vec<u32> = (0..batch as u32).map(|i| i % 10).collect();
    let mut step = |net: &mut Network| {
        for (i, v) in net
            .tape
            .value_mut(net.input)
            .unwrap()
            .iter_mut()
            .enumerate()
        {
            *v = (i % 255) as f32 / 255.0;
        }
        net.set_targets(&labels).unwrap();
        net.tape.forward(&model.params);
        optimizer.backward_and_step(&mut net.tape, loss, &mut model.params);
    };
    step(&mut net); // warm-up
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..100 {
        step(&mut net);
    }
    (ALLOCATIONS.load(Ordering::Relaxed) - before, products)
}

#[test]
fn a_warmed_up_training_step_allocates_nothing() {
    // One test function: the counter is global, so parallel tests would disturb it.
    for sgd in [true, false] {
        assert_eq!(allocations_per_steps(1, sgd).0, 0, "batch 1, sgd {sgd}");
    }
    // Larger batches: only sgemm's packing buffer, once per product and band (a large
    // product is cut into one band per worker thread).
    let bands = std::thread::available_parallelism().map_or(1, usize::from);
    for (batch, sgd) in [(32, false), (7, true)] {
        let (allocations, products) = allocations_per_steps(batch, sgd);
        assert!(
            allocations <= 100 * products * bands,
            "batch {batch}: {allocations} allocations in 100 steps of {products} products, {bands} bands"
        );
    }
}
