//! With the `ebpf` feature, compiles the CO-RE program in `bpf/` with clang into
//! `$OUT_DIR/tapio.bpf.o`, which the crate embeds. Without the feature it does nothing.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=bpf");
    println!("cargo:rerun-if-env-changed=CLANG");
    if env::var_os("CARGO_FEATURE_EBPF").is_none() {
        return;
    }
    let out =
        PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("tapio.bpf.o");
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".to_owned());
    let status = Command::new(&clang)
        .args(["-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86", "-Wall", "-Werror"])
        .args(["-I", "bpf", "-c", "bpf/tapio.bpf.c", "-o"])
        .arg(&out)
        .status()
        .unwrap_or_else(|e| {
            panic!("the `ebpf` feature needs clang to compile bpf/tapio.bpf.c ({clang}: {e}); install clang and libbpf-dev, or build without the feature")
        });
    assert!(
        status.success(),
        "{clang} failed to compile bpf/tapio.bpf.c"
    );
}
