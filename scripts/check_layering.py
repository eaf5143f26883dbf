#!/usr/bin/env python3
"""Fails on an #include that points up or across the stack of libraries of src/DEPENDENCIES.

Each file belongs to a library: src/<folder>/... and the top-level capi/ and cli/ to their
folder's, include/imgcls/<header> to the library that implements it. A quoted include names
either another folder's file ("layers/kernel.hpp", "layers/layer_kinds.inc") or a public
header ("imgcls/model.hpp"); it is allowed when that library is the file's own or one the
file's library uses, directly or through others. oneDNN's headers are allowed in the
backend alone. Usage: scripts/check_layering.py [repository root]
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]', re.M)


def read_libraries(root):
    uses, headers = {}, {}
    for line in (root / "src/DEPENDENCIES").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, rest = line.split(":", 1)
        deps, _, public = rest.partition("|")
        uses[name.strip()] = deps.split()
        for header in public.split():
            headers[header] = name.strip()
    for name, deps in uses.items():
        for dep in deps:
            if dep not in uses:
                sys.exit(f"src/DEPENDENCIES: {name} uses {dep}, which is not a library")
    return uses, headers


def closure(uses):
    reach = {}

    def visit(name, stack=()):
        if name in stack:
            sys.exit(f"src/DEPENDENCIES: a cycle: {' -> '.join(stack + (name,))}")
        if name not in reach:
            reach[name] = {name}.union(*(visit(dep, stack + (name,)) for dep in uses[name]))
        return reach[name]

    for name in uses:
        visit(name)
    return reach


def folder_of(root, name):
    inside = root / "src" / name
    return inside if inside.is_dir() else root / name


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    uses, headers = read_libraries(root)
    allowed = closure(uses)
    files = []  # (path, library)
    for name in uses:
        for path in sorted(folder_of(root, name).rglob("*")):
            if path.suffix in (".cpp", ".hpp", ".h", ".c", ".in"):
                files.append((path, name))
    for path in sorted((root / "include/imgcls").iterdir()):
        if path.name not in headers:
            print(f"{path.relative_to(root)}: no library implements it (add it to src/DEPENDENCIES)")
            return 1
        files.append((path, headers[path.name]))

    problems = []
    for path, library in files:
        for match in INCLUDE.finditer(path.read_text(errors="replace")):
            kind, target = match.group(1), match.group(2)
            if kind == "<":
                if target.startswith(("dnnl", "oneapi/dnnl")) and library != "backend":
                    problems.append(f"{path.relative_to(root)}: includes <{target}>: only the backend uses oneDNN")
                continue
            first = target.split("/", 1)[0]
            if first == "imgcls":
                owner = headers.get(target.split("/", 1)[1])
                if owner is None:
                    problems.append(f"{path.relative_to(root)}: includes \"{target}\", a public header no library implements")
                    continue
            elif first in uses and "/" in target:
                owner = first
            else:
                continue  # a file of its own folder (cli's "common.hpp"), or a generated one
            if owner not in allowed[library]:
                problems.append(f"{path.relative_to(root)}: {library} includes \"{target}\" of {owner}, "
                                f"which {library} does not use (src/DEPENDENCIES)")
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_layering: {len(problems)} include(s) against the layering of src/DEPENDENCIES")
        return 1
    print(f"check_layering: {len(files)} files follow src/DEPENDENCIES")
    return 0


if __name__ == "__main__":
    sys.exit(main())
