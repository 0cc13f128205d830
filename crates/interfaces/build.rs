//! Generates the gRPC API's code from `proto/tapio/v1/tapio.proto` with the protoc that
//! `protoc-bin-vendored` ships, so no protoc is needed on the building machine.

fn main() {
    let protoc =
        protoc_bin_vendored::protoc_bin_path().expect("a vendored protoc for this platform");
    // SAFETY: build scripts are single-threaded; prost-build reads PROTOC.
    std::env::set_var("PROTOC", protoc);
    println!("cargo:rerun-if-changed=../../proto");
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_protos(&["../../proto/tapio/v1/tapio.proto"], &["../../proto"])
        .expect("proto/tapio/v1/tapio.proto compiles");
}
