//! Compiles spec/proto/pricing.proto with protox (a protobuf compiler in
//! Rust), so that no system `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = "../spec/proto";
    let file = format!("{dir}/pricing.proto");
    println!("cargo:rerun-if-changed={file}");
    let fds = protox::compile([file.as_str()], [dir])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
