#!/usr/bin/env bash
# The manuals, --help, --version, usage errors and the bash completions against the parsers
# themselves (docs/cli.md "Help, version, manuals and completion"): every option and subcommand
# that dmaheap and dmaheapd know (their CLI11 trees, `--print-cli tree`) is in the built manual
# and in --help, every option a manual names exists, and the generated completion offers them.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
fail=0
check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then echo "ok   $1"; else echo "FAIL $1: expected [$2] got [$3]"; fail=1; fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for f in man/dmaheap.1 man/dmaheapd.8 man/libdmaheap.3 completions/dmaheap completions/dmaheapd; do
  check "built: $f" "yes" "$([[ -s $build/$f ]] && echo yes || echo no)"
done
"$build/dmaheap" --print-cli tree >"$tmp/dmaheap.json"; check "dmaheap --print-cli tree exits 0" "0" "$?"
"$build/dmaheapd" --print-cli tree >"$tmp/dmaheapd.json"; check "dmaheapd --print-cli tree exits 0" "0" "$?"

# The trees against the manuals' roff (font escapes and \- removed): each subcommand has a
# section ".SS dmaheap NAME", each of its options is in that section (board options in BOARD
# OPTIONS, which the section then names), and every option the page names is one the parsers
# know where the page puts it.
python3 - "$tmp" "$build" <<'EOF' || fail=1
import json, re, sys
tmp, build = sys.argv[1], sys.argv[2]
bad = []
def ok(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + detail))
    if not cond: bad.append(name)

def roff(path):
    text = open(path).read()
    text = re.sub(r"\\f[BIRP]", "", text).replace("\\-", "-").replace("\\&", "").replace("\\e", "\\")
    return text

def sections(text, macro):  # {heading: body} for .SH or .SS headings
    out, name, body = {}, None, []
    for line in text.splitlines():
        m = re.match(r"^\.(SH|SS) (.*)$", line)
        if m:
            if name is not None and (kind == macro): out[name] = "\n".join(body)
            kind, name, body = m.group(1), m.group(2).strip().strip('"'), []
            if macro == "SS" and kind == "SH": name = None
            continue
        if name is not None: body.append(line)
    if name is not None and kind == macro: out[name] = "\n".join(body)
    return out

def options(text): return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-h)(?![\w-])", text))

# The options a page names: in its prose, and in its literal command lines (.nf ... .fi) those
# of a dmaheap or dmaheapd command, up to the " -- " before a program of another project.
def page_options(text):
    prose, literal, inside = [], [], False
    for line in text.splitlines():
        if line.startswith(".nf"): inside = True; continue
        if line.startswith(".fi"): inside = False; continue
        (literal if inside else prose).append(line)
    found = options("\n".join(prose))
    for line in literal:
        words = line.strip().split()
        if words and words[0] in ("dmaheap", "dmaheapd"):
            found |= options(line.split(" -- ")[0])
    return found
def names(node): return {n for o in node["options"] for n in o["names"]}

dmaheap = json.load(open(f"{tmp}/dmaheap.json"))
daemon = json.load(open(f"{tmp}/dmaheapd.json"))
every = names(dmaheap) | names(daemon) | {n for s in dmaheap["subcommands"] for n in names(s)}

page = roff(f"{build}/man/dmaheap.1")
sh, ss = sections(page, "SH"), sections(page, "SS")
board_section = sh.get("BOARD OPTIONS", "")
ok("dmaheap(1): has BOARD OPTIONS, GLOBAL OPTIONS, EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES",
   all(k in sh for k in ("BOARD OPTIONS", "GLOBAL OPTIONS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES")), str(list(sh)))
board_names = set()
for sub in dmaheap["subcommands"]:
    name = sub["name"]
    heading = next((h for h in ss if h.split()[:2] == ["dmaheap", name]), None)
    ok(f"dmaheap(1): a section for dmaheap {name}", heading is not None, str(list(ss)))
    if heading is None: continue
    body = heading + "\n" + ss[heading]
    for p in sub["positionals"]:
        ok(f"dmaheap(1) {name}: positional {p['name']}", p["name"] in body)
    missing = []
    for o in sub["options"]:
        if o["group"] == "Board options":
            board_names.update(o["names"])
            where = board_section
            if "BOARD OPTIONS" not in ss[heading]: missing.append("(BOARD OPTIONS not named)")
        else:
            where = ss[heading]
        missing += [n for n in o["names"] if n not in options(where)]
    ok(f"dmaheap(1) {name}: every option of the parser ({len(sub['options'])})", not missing, " ".join(missing))
    known = names(sub)
    unknown = sorted(options(ss[heading]) - known)
    ok(f"dmaheap(1) {name}: every option the section names exists", not unknown, " ".join(unknown))
unknown = sorted(options(board_section) - board_names)
ok("dmaheap(1) BOARD OPTIONS: every option named is a board option", not unknown, " ".join(unknown))
missing = sorted(names(dmaheap) - options(sh.get("GLOBAL OPTIONS", "")))
ok("dmaheap(1) GLOBAL OPTIONS: every top-level option", not missing, " ".join(missing))
unknown = sorted(page_options(page) - every)
ok("dmaheap(1): every option the page names exists", not unknown, " ".join(unknown))

page = roff(f"{build}/man/dmaheapd.8")
sh = sections(page, "SH")
ok("dmaheapd(8): has OPTIONS, CONFIGURATION, SOCKET ACTIVATION, SIGNALS, EXIT STATUS",
   all(k in sh for k in ("OPTIONS", "CONFIGURATION", "SOCKET ACTIVATION", "SIGNALS", "EXIT STATUS")), str(list(sh)))
missing = sorted(names(daemon) - options(sh.get("OPTIONS", "")))
ok(f"dmaheapd(8) OPTIONS: every option of the parser ({len(daemon['options'])})", not missing, " ".join(missing))
unknown = sorted(options(sh.get("OPTIONS", "")) - names(daemon))
ok("dmaheapd(8) OPTIONS: every option named exists", not unknown, " ".join(unknown))
unknown = sorted(page_options(page) - every)
ok("dmaheapd(8): every option the page names exists", not unknown, " ".join(unknown))

# libdmaheap(3): the C API of the installed header, both ways.
header = open("src/client/include/dmaheap/dmaheap.h").read()
api = set(re.findall(r"DMAHEAP_API [^;]*?\b(dmaheap_[a-z_]+)\(", header))
page = roff(f"{build}/man/libdmaheap.3")
named = set(re.findall(r"\b(dmaheap_[a-z_]+)\(", page))
ok(f"libdmaheap(3): every function of dmaheap.h ({len(api)})", api and api <= named, " ".join(sorted(api - named)))
ok("libdmaheap(3): every function named exists", named <= api, " ".join(sorted(named - api)))
ok("libdmaheap(3): struct dmaheap_heap_info and the CPU access constants",
   all(w in page for w in ("struct dmaheap_heap_info", "DMAHEAP_CPU_READ", "DMAHEAP_CPU_WRITE", "DMAHEAP_CPU_READ_WRITE")))

# The trees' own lists for the shell checks below.
with open(f"{tmp}/subcommands", "w") as f:
    for sub in dmaheap["subcommands"]:
        f.write(sub["name"] + " " + " ".join(n for o in sub["options"] for n in o["names"]) + "\n")
with open(f"{tmp}/daemon-options", "w") as f:
    f.write(" ".join(sorted(names(daemon))) + "\n")
sys.exit(1 if bad else 0)
EOF

# --help: every subcommand, exit 0, on stdout, naming each option.
help=$("$build/dmaheap" --help 2>/dev/null); check "dmaheap --help exits 0" "0" "$?"
while read -r sub opts; do
  check "dmaheap --help names $sub" "yes" "$(grep -qw -- "$sub" <<<"$help" && echo yes || echo no)"
  out=$("$build/dmaheap" "$sub" --help 2>"$tmp/err"); rc=$?
  check "dmaheap $sub --help exits 0, nothing on stderr" "0 0" "$rc $(wc -c <"$tmp/err")"
  missing=""
  for o in $opts; do grep -qE -- "(^|[ ,])$o([ ,=]|$)" <<<"$out" || missing+=" $o"; done
  check "dmaheap $sub --help names each option" "" "$missing"
done <"$tmp/subcommands"
out=$("$build/dmaheapd" --help 2>/dev/null); check "dmaheapd --help exits 0" "0" "$?"
missing=""
for o in $(cat "$tmp/daemon-options"); do grep -qE -- "(^|[ ,])$o([ ,=]|$)" <<<"$out" || missing+=" $o"; done
check "dmaheapd --help names each option" "" "$missing"

# --version: "TOOL RELEASE (git DESCRIBE)" from a git checkout, "TOOL RELEASE" otherwise.
release=$(sed -nE 's/^project\(dmaheap VERSION ([0-9.]+).*/\1/p' CMakeLists.txt)
for tool in dmaheap dmaheapd; do
  v=$("$build/$tool" --version); rc=$?
  check "$tool --version exits 0" "0" "$rc"
  if git rev-parse --git-dir >/dev/null 2>&1; then
    check "$tool --version: release and git describe" "yes" \
      "$([[ $v =~ ^$tool\ ${release//./\\.}\ \(git\ [0-9a-zA-Z._-]+\)$ ]] && echo yes || echo "no: $v")"
  else
    check "$tool --version: the release" "$tool $release" "$v"
  fi
done

# Usage errors: exit 2, the bad option or argument named, and a pointer to --help, on stderr.
usage() {  # usage NAME EXPECTED-SUBSTRING HELP-POINTER COMMAND...
  local name=$1 want=$2 pointer=$3
  shift 3
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  check "$name: exit 2" "2" "$rc"
  check "$name: names it and points to --help" "yes" \
    "$([[ $err == *"$want"* && $err == *"Run '$pointer --help'"* ]] && echo yes || echo "no: $err")"
}
usage "dt-check --bogus" "unknown option --bogus" "dmaheap dt-check" "$build/dmaheap" dt-check examples/juno-framebuffer-cma.dts --bogus
usage "alloc --count without a value" "--count needs a value" "dmaheap alloc" "$build/dmaheap" alloc system 4K --count
usage "alloc without SIZE" "SIZE" "dmaheap alloc" "$build/dmaheap" alloc system
usage "list with an argument" "unexpected argument 'extra'" "dmaheap list" "$build/dmaheap" list extra
usage "run without --" "expects -- PROGRAM" "dmaheap run" "$build/dmaheap" run /bin/true
usage "unknown command" "unknown command 'frobnicate'" "dmaheap" "$build/dmaheap" frobnicate
usage "dmaheapd --bogus" "unknown option --bogus" "dmaheapd" "$build/dmaheapd" --bogus=1

# The completion, sourced into bash and called as bash would.
complete_words() {  # complete_words SCRIPT FUNCTION WORD... : the candidates for the last word
  bash -c 'source "$1"; f=$2; shift 2; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); "$f"; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$@" | sort | tr '\n' ' ' | sed 's/ $//'
}
subs=$(cut -d' ' -f1 "$tmp/subcommands" | sort | tr '\n' ' ' | sed 's/ $//')
check "completion: the subcommands" "$subs" "$(complete_words "$build/completions/dmaheap" _dmaheap dmaheap '')"
while read -r sub opts; do
  check "completion: dmaheap $sub's options" "$(tr ' ' '\n' <<<"$opts" | grep -- '^--' | sort | tr '\n' ' ' | sed 's/ $//')" \
    "$(complete_words "$build/completions/dmaheap" _dmaheap dmaheap "$sub" --)"
done <"$tmp/subcommands"
check "completion: --profile's names" "android nxp rockchip" \
  "$(complete_words "$build/completions/dmaheap" _dmaheap dmaheap list --profile '')"
check "completion: --kernel=6.1 (bash splits at =)" "6.1 6.10 6.11 6.12 6.13 6.14 6.15 6.16 6.17 6.18 6.19" \
  "$(complete_words "$build/completions/dmaheap" _dmaheap dmaheap alloc --kernel = 6.1)"
check "completion: --policy's names" "best-fit compare first-fit segregated" \
  "$(complete_words "$build/completions/dmaheap" _dmaheap dmaheap simulate w.json --policy '')"
check "completion: the subcommand after an option's value" "--count" \
  "$(complete_words "$build/completions/dmaheap" _dmaheap dmaheap alloc --kernel 6.12 system 4K --co)"
check "completion: dt-check FILE is a file" "examples/juno-framebuffer-cma.dts" \
  "$(complete_words "$build/completions/dmaheap" _dmaheap dmaheap dt-check examples/juno-framebuffer-cma.d)"
check "completion: a file after a flag (a flag takes no value)" "examples/juno-framebuffer-cma.dts" \
  "$(complete_words "$build/completions/dmaheap" _dmaheap dmaheap dt-check --json examples/juno-framebuffer-cma.d)"
check "completion: after run --, a command" "yes" \
  "$(complete_words "$build/completions/dmaheap" _dmaheap dmaheap run -- bas | grep -qw bash && echo yes || echo no)"
check "completion: dmaheapd's options" "$(tr ' ' '\n' <"$tmp/daemon-options" | grep -- '^--' | sort | tr '\n' ' ' | sed 's/ $//')" \
  "$(complete_words "$build/completions/dmaheapd" _dmaheapd dmaheapd --)"
exit $fail
