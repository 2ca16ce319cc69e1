#!/bin/bash
# tests/check_man.sh SRCDIR BANANAD BANANACTL XENSIM (suite 'style'): the man
# pages (docs/man/*.scd, the one source of bananad(8), bananactl(8) and
# xensim(1)) and the programs' --help say the same: every option (and every
# bananactl command) --help prints is in the page's SYNOPSIS, OPTIONS or
# COMMANDS, and every option the page lists there is in --help. Each page
# also goes through scdoc when it is installed.
set -u
src=$1
declare -A bin=([bananad]=$2 [bananactl]=$3 [xensim]=$4)
declare -A page=([bananad]=bananad.8 [bananactl]=bananactl.8 [xensim]=xensim.1)
bad=0
# the page's SYNOPSIS, OPTIONS and COMMANDS sections
sections() { awk '/^# /{on = ($2 == "SYNOPSIS" || $2 == "OPTIONS" || $2 == "COMMANDS")} on' "$1"; }
for p in bananad bananactl xensim; do
    scd=$src/docs/man/${page[$p]}.scd
    help=$("${bin[$p]}" --help 2>&1) || { echo "FAIL: $p --help exited non-zero"; bad=1; continue; }
    h_opts=$(grep -oE -- '(^|[ [|])--?[a-z][a-z-]*' <<<"$help" | grep -oE -- '--?[a-z][a-z-]*' | sort -u)
    m_opts=$(sections "$scd" | grep -oE -- '\*--?[a-z][a-z-]*\*' | tr -d '*' | grep -vx -- '--help' | sort -u)
    only_help=$(comm -23 <(echo "$h_opts") <(echo "$m_opts"))
    only_man=$(comm -13 <(echo "$h_opts") <(echo "$m_opts"))
    [ -z "$only_help" ] || { echo "FAIL: $p --help has options ${page[$p]}.scd does not list: $only_help"; bad=1; }
    [ -z "$only_man" ] || { echo "FAIL: ${page[$p]}.scd lists options $p --help does not have: $only_man"; bad=1; }
    if [ "$p" = bananactl ]; then
        h_cmds=$(sed -n '/^commands:/,/^[^ ]/p' <<<"$help" | grep -oE '^  [a-z]+' | tr -d ' ' | sort -u)
        m_cmds=$(awk '/^# /{on = ($2 == "COMMANDS")} on' "$scd" | grep -oE '^\*[a-z]+\*' | tr -d '*' | sort -u)
        [ "$h_cmds" = "$m_cmds" ] || { echo "FAIL: bananactl commands differ: --help: $(echo $h_cmds), page: $(echo $m_cmds)"; bad=1; }
    fi
    [ $bad -eq 0 ] && echo "ok: $p --help and ${page[$p]}: $(echo $h_opts | wc -w) options agree"
done
exit $bad
