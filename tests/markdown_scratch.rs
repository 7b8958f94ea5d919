//! Scratch.
#[test]
fn pd() {
    for t in [
        "para\n1. \n</pre>\n~~~\ntilde\n~~~\n",
        "> quote\n1. \n</pre>\n",
        "> quote\n2. x\n",
        "para\n- \nx\n",
        "> q\n- \nx\n",
        "> q\n* * *\n",
    ] {
        let ev: Vec<String> = pulldown_cmark::Parser::new(t).map(|e| format!("{e:?}")).collect();
        println!("{t:?}\n   {}", ev.join(" "));
    }
}
