//! Places the code a chatroom session runs together in release builds on Linux
//! (`link/hot-code.ld`, written by `scripts/hot-code-layout.py`): the kernel maps code 64 KiB
//! around each page a process touches, so the functions a session runs, spread over the whole
//! binary, were most of the chatroom's resident memory (README, "At a real model's pace").
//! Set `ROUNDTABLE_NO_CODE_LAYOUT=1` to link without it (a linker that cannot take the
//! script's `INSERT`, such as mold).

fn main() {
    println!("cargo:rerun-if-changed=link/hot-code.ld");
    println!("cargo:rerun-if-env-changed=ROUNDTABLE_NO_CODE_LAYOUT");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let opted_out = std::env::var_os("ROUNDTABLE_NO_CODE_LAYOUT").is_some_and(|v| !v.is_empty() && v != "0");
    if linux && release && !opted_out {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
        // Only the chatroom's binary: tests and benchmarks link without it.
        println!("cargo:rustc-link-arg-bin=roundtable=-Wl,-T,{dir}/link/hot-code.ld");
    }
}
