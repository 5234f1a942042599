#!/usr/bin/env python3
"""Builds pkg/, the npm package, as wasm-pack.toml describes it.

The wasm module: `cargo build --release` for wasm32 without default features (no_std), then npm
binaryen's wasm-opt with [wasm_opt].flags and, with [wasm_opt].minify_names, one- or two-letter
import and export names. The module has no bindings generator: src/web/index.js is its whole
JavaScript boundary. The package is assembled from pkg-template/, the wasm (pkg/web/) and one
minified ES module bundling src/web/index.js and the modules of src/web/js (scripts/bundle.mjs). Finally the
gzip size of what a browser downloads (the wasm and that module) is printed and checked against
[budget].
"""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(cmd, **kw):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, **kw)


def gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))


def main() -> int:
    manifest = tomllib.loads((ROOT / "wasm-pack.toml").read_text())
    name = manifest["package"]["out_name"]
    template = ROOT / manifest["package"]["template"]
    wasm_opt = ROOT / "node_modules" / ".bin" / "wasm-opt"
    if not wasm_opt.exists():
        sys.exit("node_modules/.bin/wasm-opt is missing: run scripts/setup.sh (make setup)")

    cargo_toml = tomllib.loads((ROOT / "Cargo.toml").read_text())
    version = cargo_toml["package"]["version"]

    pkg = ROOT / "pkg"
    shutil.rmtree(pkg, ignore_errors=True)
    pkg.mkdir()
    # Panic locations name source files. Machine paths (this checkout, the cargo registry, the
    # toolchain's rust-src) would ship in the wasm and make it differ between machines: map them
    # to short fixed prefixes. RUSTFLAGS with --target applies to the wasm crates only.
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], check=True, capture_output=True,
                             text=True).stdout.strip()
    cargo_home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
    remaps = [(ROOT, "batchwire"), (cargo_home / "registry" / "src", "crates"),
              (Path(sysroot) / "lib" / "rustlib" / "src" / "rust", "rust")]
    # CARGO_ENCODED_RUSTFLAGS (0x1f-separated) keeps paths with spaces whole; RUSTFLAGS the
    # caller set are kept.
    flags = os.environ.get("RUSTFLAGS", "").split() + [f"--remap-path-prefix={a}={b}" for a, b in remaps]
    env = dict(os.environ, CARGO_ENCODED_RUSTFLAGS="\x1f".join(flags))

    # The module: cargo, then wasm-opt, then short import and export names (applied to a copy of
    # the entry, src/web/index.js, which is the module's whole boundary).
    out = ROOT / "target" / "package"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    # Cargo.toml: without `std` the module is no_std, with src/wasm_rt.rs's runtime.
    run(["cargo", "build", "--quiet", "--release", "--lib", "--target", "wasm32-unknown-unknown",
         "--no-default-features", "-p", "batchwire"], env=env)
    wasm = out / f"{name}_bg.wasm"
    shutil.copy2(ROOT / "target" / "wasm32-unknown-unknown" / "release" / "batchwire.wasm", wasm)
    before = wasm.stat().st_size
    run([str(wasm_opt), *manifest["wasm_opt"]["flags"], str(wasm), "-o", str(wasm)])
    # The entry, with the modules it imports beside it as in src/web (the copy of the entry is
    # the one minify_names rewrites).
    shutil.copy2(ROOT / "src" / "web" / "index.js", out / "index.js")
    shutil.copytree(ROOT / "src" / "web" / "js", out / "js")
    if manifest["wasm_opt"].get("minify_names", False):
        minify_names(wasm_opt, manifest["wasm_opt"]["flags"], wasm, out / "index.js")
    print(f"  wasm {before} -> {wasm.stat().st_size} bytes after wasm-opt")

    for f in template.iterdir():
        if f.is_file():
            shutil.copy2(f, pkg / f.name)
    pj_path = pkg / "package.json"
    pj = json.loads(pj_path.read_text())
    pj["version"] = version
    pj_path.write_text(json.dumps(pj, indent=2) + "\n")
    (pkg / "web").mkdir()
    shutil.copy2(wasm, pkg / "web" / wasm.name)
    # What a browser loads as-is: the entry and src/web/js bundled into one minified module
    # (scripts/bundle.mjs); the wasm beside it in web/, found through import.meta.url.
    run(["node", "scripts/bundle.mjs", str(out / "index.js"), str(pkg / "index.js")])

    # Every path the package.json names must exist, or consumers get a broken import.
    missing = [p for p in _paths(pj) if not (pkg / p).exists()]
    if missing:
        sys.exit(f"pkg/package.json names files that were not built: {missing}")

    wasm = pkg / "web" / f"{name}_bg.wasm"
    # Everything a page loads: the wasm, and the one JS module holding the entry and src/web/js.
    js = pkg / pj["exports"]["."]["browser"]
    sizes = {"wasm": gz(wasm), "js": gz(js)}
    total = sum(sizes.values())
    budget = manifest["budget"]["budget_gzip_bytes"]
    # The ratchet, and never above the budget now that the budget is met.
    limit = min(manifest["budget"]["max_gzip_bytes"], budget)
    goal = manifest["budget"]["goal_gzip_bytes"]
    print(f"size (gzip -9): wasm {sizes['wasm']} + js {sizes['js']} (the entry and src/web/js in one "
          f"module) = {total} bytes (raw wasm {wasm.stat().st_size}, raw js "
          f"{js.stat().st_size})")
    print(f"  enforced ceiling {limit}; budget {budget} "
          f"({'met' if total <= budget else f'NOT met: {total - budget} bytes over'}); goal {goal} "
          f"({'met' if total <= goal else f'{total - goal} bytes to go'})")
    (ROOT / "target" / "package-size.json").write_text(json.dumps(
        {"gzip": sizes, "total_gzip": total, "ceiling": limit, "budget": budget, "goal": goal,
         "raw_wasm": wasm.stat().st_size}) + "\n")
    if total > limit:
        print(f"FAIL: {total} gzip bytes is over the enforced {limit}-byte ceiling in wasm-pack.toml",
              file=sys.stderr)
        return 1
    print(f"pkg/ ready: batchwire {version}")
    return 0


def minify_names(wasm_opt, flags, wasm, glue):
    """Renames the module's imports and exports to one or two letters, in the wasm and its glue.

    Names are written once in the wasm and once in the glue, and gzip cannot shrink them away.
    The map wasm-opt prints is applied to the glue (src/web/index.js's copy): the import module's
    quoted name, each import's key in the import object, and every `wasm.<export>`. A name that
    is not found exactly where expected is an error, never a module that fails to link at run time.
    """
    features = [f for f in flags if f.startswith("--enable-")]
    out = subprocess.run([str(wasm_opt), *features, "--minify-imports-and-exports-and-modules",
                          str(wasm), "-o", str(wasm)], check=True, cwd=ROOT, capture_output=True,
                         text=True).stdout
    names = json.loads(out[out.index("{"):])
    js = glue.read_text()
    modules = {m for m, _, _ in names["imports"]}
    if len(modules) != 1:
        sys.exit(f"minify_names: expected one import module, got {sorted(modules)}")
    old_module = modules.pop()
    new_module = _import_modules(wasm.read_bytes())
    if len(new_module) != 1:
        sys.exit(f"minify_names: the minified wasm imports from {sorted(new_module)}")
    quoted = json.dumps(old_module)
    if js.count(quoted) != 1:
        sys.exit(f"minify_names: {glue} names the import module {quoted} {js.count(quoted)} times")
    js = js.replace(quoted, json.dumps(new_module.pop()))
    for _, old, new in names["imports"]:
        # The key, at the start of its line in the import object: `    send: (h, ...) =>`.
        key = re.compile(rf"^(\s+){re.escape(old)}(?=:)", re.M)
        js, n = key.subn(rf"\g<1>{new}", js)
        if n != 1:
            sys.exit(f"minify_names: the import {old} is a key {n} times in {glue}")
    for old, new in names["exports"]:
        js, n = re.subn(rf"\bwasm\.{re.escape(old)}\b", f"wasm.{new}", js)
        if n == 0:
            sys.exit(f"minify_names: {glue} never calls the export {old}")
    glue.write_text(js)


def _import_modules(b: bytes) -> set:
    """The module names of a wasm binary's imports."""
    def leb(i):
        r = s = 0
        while True:
            x = b[i]
            i += 1
            r |= (x & 0x7F) << s
            s += 7
            if x < 0x80:
                return r, i

    i, found = 8, set()
    while i < len(b):
        sid = b[i]
        n, i = leb(i + 1)
        if sid == 2:
            count, j = leb(i)
            for _ in range(count):
                ml, j = leb(j)
                found.add(b[j:j + ml].decode())
                j += ml
                nl, j = leb(j)
                j += nl
                kind = b[j]
                j += 1
                if kind == 0:  # function: type index
                    _, j = leb(j)
                elif kind == 1:  # table: reftype, limits
                    j += 1
                    flags = b[j]
                    _, j = leb(j + 1)
                    if flags & 1:
                        _, j = leb(j)
                elif kind == 2:  # memory: limits
                    flags = b[j]
                    _, j = leb(j + 1)
                    if flags & 1:
                        _, j = leb(j)
                else:  # global: valtype, mutability
                    j += 2
        i += n
    return found


def _paths(pj):
    """Relative file paths named by package.json's entry fields and export map."""
    found = []

    def walk(v):
        if isinstance(v, str) and v.startswith("./"):
            found.append(v[2:])
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    walk(pj.get("exports", {}))
    for key in ("main", "module", "types"):
        if key in pj:
            found.append(re.sub(r"^\./", "", pj[key]))
    return found


if __name__ == "__main__":
    sys.exit(main())
