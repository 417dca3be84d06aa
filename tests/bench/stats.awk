# Helpers shared by the benchmark scripts' awk programs (awk -f stats.awk
# -f program): key=value fields of the current line and medians. Plain
# POSIX awk: Debian's default awk is mawk, which has no asort.

# The value of `key=value` on the current line, or "".
function field(key,   i, kv) {
  for (i = 1; i <= NF; i++) {
    split($i, kv, "=")
    if (kv[1] == key) return kv[2]
  }
  return ""
}

# Median of a[1..n]; sorts a in place.
function median(a, n,   i, j, t) {
  if (n == 0) return "nan"
  for (i = 2; i <= n; i++) {
    t = a[i]
    for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
    a[j + 1] = t
  }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
