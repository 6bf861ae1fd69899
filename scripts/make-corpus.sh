#!/usr/bin/env bash
# Regenerates examples/data/kjv-pentateuch.txt, the main job's corpus: the King James Version's first five
# books (Genesis to Deuteronomy, 5,852 verses, about 815 KB), one verse per line without its reference,
# from Debian's bible-kjv package (the text itself is its bible-kjv-text package; the KJV is in the public
# domain). Needs `apt-get install bible-kjv`. Usage: bash scripts/make-corpus.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v bible >/dev/null || { echo 'make-corpus: needs the bible program (apt-get install bible-kjv)' >&2; exit 1; }
bible -f gen1:1-deu34:12 | sed -E 's/^[1-3]?[A-Za-z]+[0-9]+:[0-9]+ //' > examples/data/kjv-pentateuch.txt
wc -c examples/data/kjv-pentateuch.txt
