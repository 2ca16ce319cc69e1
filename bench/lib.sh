#!/bin/bash
# bench/lib.sh: helpers the benchmarks share (sourced).
#   median            the median of the numbers on stdin, one a line ("nan": none)
#   cpu_s PID         the CPU seconds (user + system) PID has used so far
#   ratio A B         A / B with three decimals ("n/a" when either is missing)
#   per_unit C N K    C / N * K ("nan" when N is missing or 0): e.g. CPU
#                     seconds per million requests

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.3f\n", ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null || echo nan; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "n/a"; else printf "%.3f", a / b }'; }
per_unit() { awk -v c="$1" -v n="$2" -v k="$3" 'BEGIN { if (c == "nan" || n == "nan" || n <= 0) print "nan"; else printf "%.3f\n", c / n * k }'; }
