/// The one POSIX sh script that finds every Python environment on the remote host
/// and whether Runicorn is in it, reading files instead of starting interpreters
/// wherever files tell (an interpreter runs only when nothing else gives its version).
/// It takes no input: nothing a user sends is interpolated into it.
///
/// Output, one record per line, fields separated by tabs:
///   ENV  type  name  prefix  python  version  runicorn_version  realpath
///   CFG  $RUNICORN_DIR  user_root_dir  viewer_port   (the last two from Runicorn's
///        config.json; viewer_port only when it is a number)
enum DetectionScript {
    static let text = #"""
tab=$(printf '\t'); cr=$(printf '\r'); nl='
'
seen="$nl"
probe() {
  t=$1; n=$2; p=$3
  case "$p" in *"$tab"*|*"$nl"*) return;; esac
  [ -d "$p" ] || return
  real=$(cd -P "$p" 2>/dev/null && pwd -P) || return
  case "$seen" in *"$nl$real$nl"*) return;; esac
  py=""
  for c in "$p/bin/python3" "$p/bin/python"; do if [ -x "$c" ]; then py=$c; break; fi; done
  [ -n "$py" ] || return
  seen="$seen$real$nl"
  v=""
  if [ -f "$p/pyvenv.cfg" ]; then
    while IFS= read -r line || [ -n "$line" ]; do
      case "$line" in
        virtualenv*=*) [ "$t" = venv ] && t=virtualenv;;
        version_info*=*|version\ *=*|version=*) [ -z "$v" ] && { v=${line#*=}; v=${v# }; };;
      esac
    done < "$p/pyvenv.cfg"
  fi
  if [ -z "$v" ]; then
    for f in "$p"/conda-meta/python-[0-9]*.json; do [ -f "$f" ] || continue; v=${f##*/python-}; v=${v%%-*}; break; done
  fi
  if [ -z "$v" ]; then
    for f in "$p"/include/python3*/patchlevel.h; do
      [ -f "$f" ] || continue
      while IFS= read -r line; do
        case "$line" in '#define PY_VERSION '*) v=${line#*\"}; v=${v%%\"*}; break;; esac
      done < "$f"
      break
    done
  fi
  if [ -z "$v" ] && [ "$t" = pyenv ]; then
    case "${p##*/}" in [0-9]*) v=${p##*/};; esac
  fi
  [ -n "$v" ] || v=$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)
  rc=$(rcver "$p"/lib/python*/site-packages)
  printf 'ENV\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$n" "$p" "$py" "$v" "$rc" "$real"
}
rcver() {
  for d in "$@"; do
    for m in "$d"/runicorn-*.dist-info/METADATA; do
      [ -f "$m" ] || continue
      while IFS= read -r line; do
        line=${line%"$cr"}
        case "$line" in 'Version: '*) printf '%s' "${line#Version: }"; return;; '') return;; esac
      done < "$m"
    done
  done
}
roots="$nl"
addroot() { case "$roots" in *"$nl$1$nl"*) ;; *) roots="$roots$1$nl";; esac; }
[ -n "${CONDA_EXE:-}" ] && addroot "${CONDA_EXE%/*/*}"
c=$(command -v conda 2>/dev/null) && case "$c" in /*) addroot "${c%/*/*}";; esac
for r in "$HOME/miniconda3" "$HOME/anaconda3" "$HOME/miniforge3" "$HOME/mambaforge" "$HOME/micromamba" \
         "$HOME/.local/share/mamba" "$HOME/conda" /opt/conda /opt/miniconda3 /opt/anaconda3 /opt/miniforge3 \
         /opt/mambaforge /usr/local/miniconda3 /usr/local/anaconda3 /usr/local/conda /usr/local/miniforge3; do
  [ -d "$r" ] && addroot "$r"
done
IFS="$nl"
for r in $roots; do
  [ -d "$r/conda-meta" ] && probe conda base "$r"
  for e in "$r"/envs/*; do [ -d "$e/conda-meta" ] && probe conda "${e##*/}" "$e"; done
done
if [ -f "$HOME/.conda/environments.txt" ]; then
  while IFS= read -r e || [ -n "$e" ]; do
    [ -d "$e/conda-meta" ] || continue
    case "$e" in */envs/*) probe conda "${e##*/}" "$e";; *) probe conda "$e" "$e";; esac
  done < "$HOME/.conda/environments.txt"
fi
IFS=" $tab$nl"
for d in "$HOME/.virtualenvs" "$HOME/venvs" "$HOME/envs" "$HOME/.venvs" "${WORKON_HOME:-}" \
         "$HOME/.local/share/virtualenvs" "$HOME/.cache/pypoetry/virtualenvs"; do
  [ -n "$d" ] && [ -d "$d" ] || continue
  for e in "$d"/*; do [ -f "$e/pyvenv.cfg" ] && probe venv "${e##*/}" "$e"; done
done
[ -f "$HOME/.venv/pyvenv.cfg" ] && probe venv .venv "$HOME/.venv"
for e in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/*; do [ -d "$e" ] && probe pyenv "${e##*/}" "$e"; done
for s in /usr/bin/python3 /usr/local/bin/python3 $(command -v python3 2>/dev/null); do
  [ -x "$s" ] || continue
  case "$s" in */shims/*) continue;; esac
  sp=$(cd -P "${s%/*}/.." 2>/dev/null && pwd -P) || continue
  case "$seen" in *"$nl$sp$nl"*) continue;; esac
  v=""
  [ -n "$v" ] || v=$("$s" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)
  mm=${v%.*}
  rc=$(rcver "$HOME/.local/lib/python$mm/site-packages" "$sp/local/lib/python$mm/dist-packages" "$sp/lib/python3/dist-packages" "$sp/lib/python$mm/site-packages")
  printf 'ENV\tsystem\tsystem\t%s\t%s\t%s\t%s\t%s\n' "$sp" "$s" "$v" "$rc" "$sp"
  break
done
cfg="${XDG_CONFIG_HOME:-$HOME/.config}/runicorn/config.json"
urd=""; vp=""
if [ -f "$cfg" ]; then
  urd=$(sed -n 's/.*"user_root_dir"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$cfg" | head -n 1)
  vp=$(sed -n 's/.*"viewer_port"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$cfg" | head -n 1)
fi
printf 'CFG\t%s\t%s\t%s\n' "${RUNICORN_DIR:-}" "$urd" "$vp"
"""#
}
