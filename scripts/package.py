#!/usr/bin/env python3
"""Builds pkg/, the npm package, as wasm-pack.toml describes it.

The wasm modules, one per [[module]] (a protocol family): `cargo build --release` for wasm32
without default features (no_std) plus the module's features, then npm binaryen's wasm-opt with
[wasm_opt].flags and, with [wasm_opt].minify_names, one- or two-letter import and export names,
the same in every module. The modules have no bindings generator: src/web/index.js is their whole
JavaScript boundary, and picks one by a client's protocol. The package is assembled from
pkg-template/, the modules (pkg/web/) and one minified ES module bundling src/web/index.js and the
modules of src/web/js (scripts/bundle.mjs). Finally the gzip size of what a browser downloads for
each module (that module and the JS) is printed and checked against the module's ceiling.
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

    # The modules, one per [[module]] of the manifest: cargo with that module's features (each in
    # its own target directory, so neither build undoes the other's), then wasm-opt. Short import
    # and export names are applied to a copy of the entry, src/web/index.js, the boundary of every
    # module: the first module's names are minified by wasm-opt and the same map is applied to the
    # others, so the one entry links with each.
    out = ROOT / "target" / "package"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    modules = manifest["module"]
    shutil.copy2(ROOT / "src" / "web" / "index.js", out / "index.js")
    shutil.copytree(ROOT / "src" / "web" / "js", out / "js")
    renames = None
    for m in modules:
        features = m["features"]
        target_dir = ROOT / "target" / "package-cargo" / Path(m["file"]).stem
        # Cargo.toml: without `std` the module is no_std, with src/wasm_rt.rs's runtime.
        run(["cargo", "build", "--quiet", "--release", "--lib", "--target", "wasm32-unknown-unknown",
             "--no-default-features", "--features", ",".join(features), "--target-dir",
             str(target_dir), "-p", "batchwire"], env=env)
        wasm = out / m["file"]
        shutil.copy2(target_dir / "wasm32-unknown-unknown" / "release" / "batchwire.wasm", wasm)
        before = wasm.stat().st_size
        run([str(wasm_opt), *manifest["wasm_opt"]["flags"], str(wasm), "-o", str(wasm)])
        if manifest["wasm_opt"].get("minify_names", False):
            if renames is None:
                renames = minify_names(wasm_opt, manifest["wasm_opt"]["flags"], wasm, out / "index.js")
            else:
                rename(wasm, renames)
        blanked = blank_unread(wasm)
        print(f"  {m['file']} ({', '.join(features)}): {before} -> {wasm.stat().st_size} bytes after "
              f"wasm-opt; {blanked} bytes no code reads set to zero", flush=True)
    if renames is not None:
        boundaries = {m["file"]: _boundary(((out / m["file"]).read_bytes())) for m in modules}
        if len({repr(b) for b in boundaries.values()}) != 1:
            sys.exit(f"minify_names: the modules' imports and exports differ: {boundaries}")

    for f in template.iterdir():
        if f.is_file():
            shutil.copy2(f, pkg / f.name)
    # The licenses and the changelog live at the repository root, for the crate and the package.
    for name in ("LICENSE-MIT", "LICENSE-APACHE", "CHANGELOG.md"):
        shutil.copy2(ROOT / name, pkg / name)
    pj_path = pkg / "package.json"
    pj = json.loads(pj_path.read_text())
    pj["version"] = version
    pj_path.write_text(json.dumps(pj, indent=2) + "\n")
    (pkg / "web").mkdir()
    for m in modules:
        shutil.copy2(out / m["file"], pkg / "web" / m["file"])
    # What a browser loads as-is: the entry and src/web/js bundled into one minified module
    # (scripts/bundle.mjs), with its source map beside it (index.js.map, named by the module's last
    # line; never loaded by a page, so not in the sizes below); the wasm it picks by protocol
    # beside it in web/, found through import.meta.url.
    run(["node", "scripts/bundle.mjs", str(out / "index.js"), str(pkg / "index.js")])

    # Every path the package.json names must exist, or consumers get a broken import; and every
    # module must be one the entry can fetch.
    missing = [p for p in _paths(pj) if not (pkg / p).exists()]
    if missing:
        sys.exit(f"pkg/package.json names files that were not built: {missing}")
    # Everything a page loads: one of the modules, and the one JS module holding the entry and
    # src/web/js.
    js = pkg / pj["exports"]["."]["browser"]
    # A module with an `entry` (Node's) is loaded by that file, not fetched by the browser entry.
    unfetched = [m["file"] for m in modules
                 if not re.search(rf"""new URL\([`"']\./web/{re.escape(m['file'])}[`"']""",
                                  (pkg / m.get("entry", pj["exports"]["."]["browser"])).read_text())]
    if unfetched:
        sys.exit(f"{js} never fetches {unfetched}")
    budget = manifest["budget"]["budget_gzip_bytes"]
    goal = manifest["budget"]["goal_gzip_bytes"]
    report, failed = [], []
    print(f"size (gzip -9) of what a page loads: a wasm + js {gz(js)} (the entry and src/web/js in "
          f"one module, raw {js.stat().st_size}); budget {budget}, goal {goal}")
    for m in modules:
        wasm = pkg / "web" / m["file"]
        sizes = {"wasm": gz(wasm), "js": gz(js)}
        total = sum(sizes.values())
        # The ratchet; never above the budget for a module that meets it.
        limit = m["max_gzip_bytes"] if m.get("over_budget") else min(m["max_gzip_bytes"], budget)
        report.append({"file": m["file"], "protocols": m["protocols"], "features": m["features"],
                       "gzip": sizes, "total_gzip": total, "ceiling": limit,
                       "raw_wasm": wasm.stat().st_size})
        print(f"  {', '.join(m['protocols'])}: wasm {sizes['wasm']} + js {sizes['js']} = {total} "
              f"bytes (web/{m['file']}, raw {wasm.stat().st_size}); ceiling {limit}; budget "
              f"{'met' if total <= budget else f'NOT met: {total - budget} bytes over'}; goal "
              f"{'met' if total <= goal else f'{total - goal} bytes to go'}")
        if total > limit:
            failed.append(f"FAIL: web/{m['file']}: {total} gzip bytes is over its enforced "
                          f"{limit}-byte ceiling in wasm-pack.toml")
    (ROOT / "target" / "package-size.json").write_text(json.dumps(
        {"modules": report, "budget": budget, "goal": goal}) + "\n")
    if failed:
        print("\n".join(failed), file=sys.stderr)
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
    new_module = new_module.pop()
    quoted = json.dumps(old_module)
    if js.count(quoted) != 1:
        sys.exit(f"minify_names: {glue} names the import module {quoted} {js.count(quoted)} times")
    js = js.replace(quoted, json.dumps(new_module))
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
    return {"modules": {old_module: new_module},
            "imports": {old: new for _, old, new in names["imports"]},
            "exports": dict(names["exports"])}


# Data the final module cannot read: the texts of the standard library's panics (the allocation
# failure's "memory allocation of N bytes failed", "capacity overflow", the /rustc/... source
# paths of their locations) and core::fmt's table of two-digit numbers. A panic builds its
# message's arguments on the stack and calls the panic handler, which traps without reading them
# (src/wasm_rt.rs); only core::fmt reads such texts, through the Display functions the arguments
# point to, called indirectly, and wasm-opt has removed it: the module has no table, so no
# indirect call. The digit table was read by core::fmt's integer Display alone: no address in it
# is left in the code. Zeroed, these bytes cost gzip almost nothing (about 320 B of a /v1-batch
# page). Rust's `panic_immediate_abort` would leave them out, but only on nightly.
UNREAD = [
    rb"/rustc/[0-9a-f]{40}/library/[a-z_/]+\.rs",
    rb"memory allocation of ",
    rb" bytes failed",
    rb"capacity overflow",
    # "00", "01", ... "99": core::fmt::num's DEC_DIGITS_LUT.
    b"".join(b"%02d" % i for i in range(100)),
]


def blank_unread(wasm):
    """Zeroes the UNREAD bytes of `wasm`'s data section; returns how many. Exits if the module
    could read them: a table (indirect calls, so core::fmt may run), a code address inside one
    of them, or the crate's own source holding such a text (a string the linker may have merged
    with the panic's)."""
    b = wasm.read_bytes()
    sections = dict(_sections(b))
    if 4 in sections or 9 in sections or any(kind == 1 for kind in _import_kinds(sections.get(2, b"\0"))):
        sys.exit(f"blank_unread: {wasm} has a table, so indirect calls: core::fmt may read the "
                 "panic texts; leave them (drop this step) or find what brought the table in")
    own = "\n".join(p.read_text() for p in (ROOT / "src").rglob("*.rs"))
    for pat in UNREAD[1:4]:
        if pat.decode() in own:
            sys.exit(f"blank_unread: src/ has the text {pat.decode()!r}: it may share the bytes")
    # Every address the code names: i32.const values and load/store offsets (wasm-dis's text).
    wat = subprocess.run([str(ROOT / "node_modules" / ".bin" / "wasm-dis"), str(wasm)], check=True,
                         capture_output=True, text=True).stdout
    named = sorted({int(n) for n in re.findall(r"(?:i32\.const |offset=)(-?\d+)", wat)})
    start = next(at for sid, at, _ in _section_spans(b) if sid == 11)
    data = bytearray(b)
    count, j = _leb(b, start)
    blanked = 0
    for _ in range(count):
        if b[j] != 0 or b[j + 1] != 0x41:  # active, memory 0, offset `i32.const N end`
            sys.exit(f"blank_unread: {wasm}: a data segment of another form")
        base, k = _sleb(b, j + 2)
        n, k = _leb(b, k + 1)
        seg = b[k:k + n]
        for pat in UNREAD:
            for m in re.finditer(re.escape(pat) if pat[:1] == b"0" else pat, seg):
                lo, hi = base + m.start(), base + m.end()
                # A panic text's own address is named where the panic builds its arguments; the
                # digit table's is not named at all, or some code reads it.
                inside = [a for a in named if lo < a < hi or (a == lo and pat[:1] == b"0")]
                if inside:
                    sys.exit(f"blank_unread: {wasm}: the code names {inside[0]}, inside "
                             f"{m.group()[:24]!r}... at {lo}..{hi}")
                data[k + m.start():k + m.end()] = bytes(hi - lo)
                blanked += hi - lo
        j = k + n
    if not blanked:
        sys.exit(f"blank_unread: {wasm} has none of the texts it expects; see UNREAD")
    wasm.write_bytes(bytes(data))
    return blanked


def _import_kinds(body):
    count, j = _leb(body, 0)
    for _ in range(count):
        _, j = _name(body, j)
        _, j = _name(body, j)
        yield body[j]
        j = _import_end(body, j)


def _sleb(b, i):
    """A signed LEB128: _leb's bits, negative when the last byte's sign bit (0x40) is set."""
    r, j = _leb(b, i)
    return (r - (1 << 7 * (j - i)) if b[j - 1] & 0x40 else r), j


def rename(wasm, renames):
    """Applies the names minify_names gave the first module to another module of the same
    boundary, so one glue links with both. Every import and export must be in the map."""
    out = bytearray(wasm.read_bytes()[:8])
    for sid, body in _sections(wasm.read_bytes()):
        if sid in (2, 7):
            count, j = _leb(body, 0)
            new = bytearray(_uleb(count))
            for _ in range(count):
                if sid == 2:
                    module, j = _name(body, j)
                    if module not in renames["modules"]:
                        sys.exit(f"minify_names: {wasm} imports from {module}, unlike the first module")
                    new += _uname(renames["modules"][module])
                field, j = _name(body, j)
                table = renames["imports" if sid == 2 else "exports"]
                if field not in table:
                    sys.exit(f"minify_names: {wasm} has an {'import' if sid == 2 else 'export'} "
                             f"{field} the first module has not")
                new += _uname(table[field])
                k = _import_end(body, j) if sid == 2 else _leb(body, j + 1)[1]
                new += body[j:k]
                j = k
            body = bytes(new)
        out += bytes([sid]) + _uleb(len(body)) + body
    wasm.write_bytes(bytes(out))


def _boundary(b: bytes):
    """A wasm binary's imports ((module, name) pairs) and export names, sorted."""
    imports, exports = [], []
    for sid, body in _sections(b):
        if sid in (2, 7):
            count, j = _leb(body, 0)
            for _ in range(count):
                if sid == 2:
                    module, j = _name(body, j)
                    field, j = _name(body, j)
                    imports.append((module, field))
                    j = _import_end(body, j)
                else:
                    field, j = _name(body, j)
                    exports.append(field)
                    j = _leb(body, j + 1)[1]
    return sorted(imports), sorted(exports)


def _sections(b: bytes):
    for sid, start, end in _section_spans(b):
        yield sid, b[start:end]


def _section_spans(b: bytes):
    """Each section's id and where its body starts and ends in `b`."""
    i = 8
    while i < len(b):
        n, j = _leb(b, i + 1)
        yield b[i], j, j + n
        i = j + n


def _leb(b, i):
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, i


def _uleb(n):
    out = bytearray()
    while True:
        x = n & 0x7F
        n >>= 7
        out.append(x | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _name(b, i):
    n, i = _leb(b, i)
    return b[i:i + n].decode(), i + n


def _uname(s):
    return _uleb(len(s.encode())) + s.encode()


def _import_end(b, j):
    """Where the import descriptor starting at `j` (after its names) ends."""
    kind = b[j]
    j += 1
    if kind == 0:  # function: type index
        return _leb(b, j)[1]
    if kind in (1, 2):  # table: reftype, limits; memory: limits
        if kind == 1:
            j += 1
        flags = b[j]
        _, j = _leb(b, j + 1)
        if flags & 1:
            _, j = _leb(b, j)
        return j
    return j + 2  # global: valtype, mutability


def _import_modules(b: bytes) -> set:
    """The module names of a wasm binary's imports."""
    return {m for m, _ in _boundary(b)[0]}


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
