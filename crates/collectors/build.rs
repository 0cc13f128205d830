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
    // bpf_tracing.h reads registers by the target's architecture name.
    let arch = match env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("x86_64") => "x86",
        Ok("aarch64") => "arm64",
        Ok("riscv64") => "riscv",
        Ok("s390x") => "s390",
        Ok("powerpc64") => "powerpc",
        Ok(other) => panic!("the `ebpf` feature does not know the BPF name of {other}"),
        Err(_) => "x86",
    };
    let status = Command::new(&clang)
        .args(["-g", "-O2", "-target", "bpf", "-Wall", "-Werror"])
        .arg(format!("-D__TARGET_ARCH_{arch}"))
        .args(["-I", "bpf", "-c", "bpf/tapio.bpf.c", "-o"])
        .arg(&out)
        .status()
        .unwrap_or_else(|e| {
            panic!("the `ebpf` feature needs clang to compile bpf/tapio.bpf.c ({clang}: {e}); install clang, libbpf-dev, libelf-dev and zlib1g-dev, or build without the feature")
        });
    assert!(
        status.success(),
        "{clang} failed to compile bpf/tapio.bpf.c"
    );
}
