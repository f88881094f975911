#!/usr/bin/env bash
# Spell-checks the English half of every message people read ("日本語 / English" strings in
# services/*/src) with aspell, against the project's own words (scripts/message-words.txt).
# Prints each unknown word and fails if there is one. Installs aspell from Debian if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v aspell >/dev/null 2>&1 || ! aspell dump dicts 2>/dev/null | grep -q '^en$'; then
  echo "[spellcheck] installing aspell and its English dictionary"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q aspell aspell-en >/dev/null \
    || { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
         as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q aspell aspell-en >/dev/null; }
fi
unknown=$(python3 - <<'PY' | aspell --lang=en --personal="$PWD/scripts/message-words.txt" list | sort -u
import glob, re
# Whole string literals first, left to right, so that code between two literals (a division,
# ` / `) is never taken for a message; then the English half of each bilingual one.
literal = re.compile(r'"((?:[^"\\]|\\.)*)"')
for path in glob.glob('services/**/src/**/*.rs', recursive=True):
    for match in literal.finditer(open(path, encoding='utf-8').read()):
        text = match.group(1)
        if ' / ' not in text:
            continue
        english = re.sub(r'\{[^}]*\}', ' ', text.split(' / ', 1)[1])
        print(re.sub(r'\\[nt"\\]', ' ', english))
PY
)
if [ -n "$unknown" ]; then
  echo "[spellcheck] unknown words in messages (fix them, or add real words to scripts/message-words.txt):"
  echo "$unknown"
  exit 1
fi
echo "[spellcheck] the English of every message is spelt right"
