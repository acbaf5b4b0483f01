fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let wasm = wat::parse_file(&args[0]).unwrap();
    let target = if args.get(2).map(String::as_str) == Some("aarch64") {
        gasket_singlepass::Target::Aarch64
    } else {
        gasket_singlepass::Target::X86_64
    };
    let a = gasket_singlepass::compile(&wasm, target).unwrap();
    std::fs::write(&args[1], &a.code).unwrap();
    for f in a.functions.iter() {
        println!("{:?}", f);
    }
}
