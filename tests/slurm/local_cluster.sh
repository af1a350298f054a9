# A real one-node Slurm cluster on this machine, for tests: `source` this file, then
#
#   cluster_available || exit 77     # prints why not (not root, no apt, ...)
#   trap cluster_down EXIT
#   cluster_up "$dir/cluster"        # exports SLURM_CONF: sbatch, srun, squeue, scontrol use it
#   id=$(sbatch --parsable ...); wait_job "$id" 120
#
# For Debian 12's Slurm 22.05 and MUNGE 0.5 packages, run as root without systemd (a container).
# What the machine had before cluster_up, it has again after cluster_down:
#   - packages: cluster_up installs slurmctld, slurmd, slurm-client and munge only where missing,
#     with --no-install-recommends, and remembers every package that the install added (their
#     dependencies too: liblua5.1-0, slurm-wlm-basic-plugins). cluster_down purges exactly those,
#     after checking by simulation that the purge removes nothing else (a package installed
#     meanwhile that needs them: then it leaves them and says so). No `apt-get autoremove`: that
#     would also take automatically installed packages that were on the machine before. The
#     packages' own purge scripts remove what their install created: /etc/munge (with the key
#     munge's postinst makes), /etc/slurm, /var/lib/slurm, /var/log/{slurm,munge}, the `munge` and
#     `slurm` system users and groups. That purge's `ucf --purge` rotates ucf's backup files in
#     /var/lib/ucf: cluster_down puts back the ones that were there. A package that was removed
#     but not purged before (dpkg state "rc": its configuration files still there) is removed
#     again, not purged. Set LOCAL_CLUSTER_KEEP_PACKAGES=1 to keep the packages installed (a later
#     run then finds them present and leaves them alone).
#   - daemons: munged, slurmctld and slurmd run in the foreground (-F/-D) as this shell's background
#     jobs; cluster_down cancels every job (until none is left) and then stops them by their
#     process ids (TERM, then KILL), never by name. Any process of the cluster still alive after
#     that (a slurmstepd or job process that outlived its job) is found by its environment, which
#     names DIR (GDPO_LOCAL_CLUSTER=DIR for the daemons; SLURM_CONF=DIR/slurm.conf, which slurmd
#     passes to slurmstepd and sbatch to the jobs), and only such processes are killed.
#   - files: everything (config, MUNGE key and socket, state, spool, logs, pid files, TmpFS with
#     the pmix plugin's per-step directories) lives in DIR, which cluster_down removes. The MUNGE
#     key is always a fresh one in DIR, made by cluster_up: a system key (/etc/munge/munge.key) is
#     never read, made or changed by it (munge's own postinst makes one when cluster_up installs
#     munge, and munge's purge removes it). Our munged listens on DIR's socket, so a MUNGE or Slurm
#     already running on the machine is not disturbed. The ports are the first free pair from
#     16817/16818 up ($LOCAL_CLUSTER_PORT to choose), not Slurm's default 6817/6818.
#   - service starts: Debian's maintainer scripts start munge/slurmd/slurmctld through invoke-rc.d
#     unless /usr/sbin/policy-rc.d forbids it (containers usually have one that does). Where there
#     is none, cluster_up puts one there (exit 101: "action forbidden") for the duration of its
#     apt-get runs and removes it afterwards.
#
# What Debian's Slurm 22.05 needs here (found by experiment on a Debian 12 container, 2 CPUs):
#   - no cgroups: ProctrackType=proctrack/linuxproc and TaskPlugin=task/none, and no cgroup.conf;
#     the job's processes are then tracked by parent process id.
#   - MPI: slurm-wlm-basic-plugins ships mpi_pmix (PMIx v4, linked to Debian's libpmix2, which Open
#     MPI 4.1 also uses), so `srun --mpi=list` shows pmix and `srun --mpi=pmix` works with
#     MpiDefault=none.
#   - MUNGE as root with its own socket: munged refuses a socket whose directory chain is not
#     searchable by everyone ("Socket is inaccessible: execute permissions for all required"), so
#     DIR is made 0755 and each directory above it must be o+x (mktemp -d makes 0700 ones: chmod
#     them). Slurm finds the socket through AuthInfo=socket=... (auth/munge and cred/munge).
#   - requeue delay: a requeued job may start again only after the credential lifetime, AuthInfo's
#     cred_expire (120 s by default): cred_expire=5 here. And the main scheduler runs every 60 s by
#     default (a requeued job whose BeginTime has passed waited for it): sched_interval=2.
#   - --signal=B:USR1@N and time limits are checked by slurmctld every 30 s (not configurable), so
#     such a signal comes up to 30 s late (sbatch(1) says up to 60 s).
#   - without slurmdbd there is no accounting (sacct does not work): job_state reads
#     `scontrol show job`, which keeps a finished job for MinJobAge (300 s), and falls back to the
#     jobcomp/filetxt log in DIR (one line per end, requeues included).
#   - hostname: the node is `hostname -s`, but both daemons are addressed as 127.0.0.1, so the name
#     need not resolve.

_lc_packages=(slurmctld slurmd slurm-client munge)
_lc_apt_opts=(-qq -o DPkg::Lock::Timeout=120 -o Acquire::Retries=1 -o Acquire::http::Timeout=20)

_lc_say() { echo "local_cluster: $*" >&2; }

# The packages of _lc_packages that are not installed.
_lc_missing() {
  local p
  for p in "${_lc_packages[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || echo "$p"
  done
}

# Installed packages, one "name:arch" a line, sorted.
_lc_installed() {
  dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package}\n' 2>/dev/null |
    awk '$1 == "ii" { print $2 }' | sort
}

# Prints a one-line reason and returns 1 when the cluster cannot be brought up here.
cluster_available() {
  if [ "$(id -u)" -ne 0 ]; then echo "not root (a Slurm cluster needs root)"; return 1; fi
  local c
  for c in dpkg-query apt-get hostname nproc; do
    command -v "$c" >/dev/null || { echo "no $c (not a Debian-like system)"; return 1; }
  done
  local missing
  missing=$(_lc_missing)
  if [ -z "$missing" ]; then
    for c in munged slurmctld slurmd sbatch srun; do
      command -v "$c" >/dev/null || { echo "no $c although the packages are installed"; return 1; }
    done
    return 0
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get update "${_lc_apt_opts[@]}" >/dev/null 2>&1; then
    echo "apt-get update failed (no package mirror?); missing: $(echo $missing)"
    return 1
  fi
  _lc_apt_updated=1
  local p candidate
  for p in $missing; do
    candidate=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ { print $2 }')
    if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
      echo "package $p is not available from apt"
      return 1
    fi
  done
  return 0
}

# Runs apt-get with service starts forbidden (a temporary policy-rc.d where there is none).
_lc_apt() {
  local made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# local_cluster.sh: no service starts during its apt-get runs\nexit 101\n' \
      > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get "${_lc_apt_opts[@]}" "$@"
  local rc=$?
  [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
  return $rc
}

_lc_install() {
  local missing
  missing=$(_lc_missing)
  [ -z "$missing" ] && return 0
  _lc_say "installing $(echo $missing)"
  if [ -z "${_lc_apt_updated:-}" ]; then
    _lc_apt update >/dev/null || { _lc_say "apt-get update failed"; return 1; }
    _lc_apt_updated=1
  fi
  local before f
  before=$(_lc_installed)
  LC_WERE_RC=$(dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package}\n' 2>/dev/null |
    awk '$1 == "rc" { print $2 }' | tr '\n' ' ')
  # slurm-wlm-basic-plugins' purge runs `ucf --purge`, which rotates ucf's backup files
  # (hashfile.N, registry.N): kept here to be put back (see _lc_restore_ucf).
  mkdir -p "$LC_DIR/ucf-before"
  for f in /var/lib/ucf/hashfile* /var/lib/ucf/registry*; do
    [ -f "$f" ] && cp -p "$f" "$LC_DIR/ucf-before/"
  done
  _lc_apt install -y --no-install-recommends $missing > "$LC_DIR/log/apt-install.log" 2>&1
  local rc=$?
  # Whatever the install added, even when it failed half way: cluster_down purges it.
  LC_INSTALLED=$(comm -13 <(echo "$before") <(_lc_installed) | tr '\n' ' ')
  echo "$LC_INSTALLED" > "$LC_DIR/installed-packages"
  if [ $rc -ne 0 ]; then
    _lc_say "apt-get install failed:"; tail -20 "$LC_DIR/log/apt-install.log" >&2
    return 1
  fi
  _lc_say "installed $LC_INSTALLED"
}

_lc_purge() {
  [ -z "${LC_INSTALLED:-}" ] && return 0
  if [ -n "${LOCAL_CLUSTER_KEEP_PACKAGES:-}" ]; then
    _lc_say "keeping the packages it installed (LOCAL_CLUSTER_KEEP_PACKAGES): $LC_INSTALLED"
    return 0
  fi
  # Purged, but removed only (back to dpkg's "rc") where they were "rc" before; and only if
  # that takes nothing but what cluster_up installed.
  local p extra
  extra=$(apt-get -s purge $LC_INSTALLED 2>/dev/null |
    awk '$1 == "Purg" || $1 == "Remv" { print $2 }' |
    while read -r p; do
      case " $LC_INSTALLED " in *" $p "* | *" $p:"*) ;; *) echo "$p" ;; esac
    done)
  if [ -n "$extra" ]; then
    _lc_say "NOT purging $LC_INSTALLED: packages installed since need them ($(echo $extra))"
    return 1
  fi
  local purge=() remove=()
  for p in $LC_INSTALLED; do
    case " ${LC_WERE_RC:-} " in
      *" $p "* | *" ${p%%:*} "*) remove+=("$p") ;;
      *) purge+=("$p") ;;
    esac
  done
  local log=$LC_DIR/log/apt-purge.log
  if [ ${#remove[@]} -gt 0 ] && ! _lc_apt remove -y "${remove[@]}" >> "$log" 2>&1; then
    _lc_say "apt-get remove failed:"; tail -20 "$log" >&2
    return 1
  fi
  if [ ${#purge[@]} -gt 0 ] && ! _lc_apt purge -y "${purge[@]}" >> "$log" 2>&1; then
    _lc_say "apt-get purge failed:"; tail -20 "$log" >&2
    return 1
  fi
  _lc_say "purged ${purge[*]}${remove[*]:+; removed (they were removed before) ${remove[*]}}"
  _lc_restore_ucf
}

# After the purge: ucf's registry and hash file are as before the install (nothing of ours is
# registered), but its rotated backups moved on; put back the backup files as they were. Nothing is
# touched when the registry itself differs (another package's doing: not ours to undo).
_lc_restore_ucf() {
  local b=$LC_DIR/ucf-before u=/var/lib/ucf f
  [ -f "$b/hashfile" ] && [ -f "$b/registry" ] || return 0
  if ! cmp -s "$b/hashfile" "$u/hashfile" || ! cmp -s "$b/registry" "$u/registry"; then
    _lc_say "ucf's registry changed meanwhile: leaving its backup files as they are"
    return 0
  fi
  for f in "$u"/hashfile.* "$u"/registry.*; do
    [ -f "$f" ] && [ ! -f "$b/${f##*/}" ] && rm -f "$f"
  done
  for f in "$b"/hashfile* "$b"/registry*; do  # the same contents, and their times again
    [ -f "$f" ] && cp -p "$f" "$u/"
  done
  return 0
}

# A free TCP port pair (nothing accepts connections on either) from $LOCAL_CLUSTER_PORT or 16817.
_lc_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
_lc_ports() {
  local p=${LOCAL_CLUSTER_PORT:-16817}
  for _ in $(seq 1 50); do
    if _lc_port_free "$p" && _lc_port_free "$((p + 1))"; then echo "$p"; return 0; fi
    p=$((p + 2))
  done
  return 1
}

_lc_logs() {  # the daemons' (apt-get's are shown where it fails)
  local f
  for f in "$LC_DIR"/log/*.stderr "$LC_DIR"/log/{munged,slurmctld,slurmd}.log; do
    [ -f "$f" ] || continue
    echo "----- $f (last 40 lines)" >&2
    tail -40 "$f" >&2
  done
}

_lc_fail() {
  _lc_say "cluster_up failed: $*"
  _lc_logs
  return 1
}

# Starts a daemon in the foreground as a background job; its pid in _lc_last_pid, LC_PIDS, DIR/pids.
_lc_start() {
  local name=$1; shift
  GDPO_LOCAL_CLUSTER="$LC_DIR" "$@" > "$LC_DIR/log/$name.stderr" 2>&1 &
  local pid=$!
  LC_PIDS="$pid:$name ${LC_PIDS:-}"  # newest first: stopped in the reverse order of starting
  echo "$pid $name" >> "$LC_DIR/pids"
  _lc_last_pid=$pid
}

_lc_alive() { kill -0 "$1" 2>/dev/null; }

# _lc_until PID CMD...: until CMD succeeds (0), PID has died (1) or _lc_deadline passed (1).
_lc_until() {
  local pid=$1; shift
  while [ "$SECONDS" -lt "$_lc_deadline" ]; do
    "$@" && return 0
    _lc_alive "$pid" || return 1
    sleep 0.25
  done
  return 1
}
_lc_munge_ok() { munge -n -S "$1" 2>/dev/null | unmunge -S "$1" >/dev/null 2>&1; }
_lc_ctld_ok() { scontrol ping 2>/dev/null | grep -q 'is UP'; }
_lc_node_idle() { [ "$(sinfo -h -n "$1" -o %T 2>/dev/null)" = idle ]; }

# cluster_up DIR: installs what is missing, starts munged, slurmctld and slurmd, and waits (60 s at
# most) until the node is idle. Exports SLURM_CONF=DIR/slurm.conf. On failure: the daemons' logs,
# and 1 (cluster_down then undoes what was done).
cluster_up() {
  if [ -n "${LC_DIR:-}" ]; then _lc_say "a cluster is already up in $LC_DIR"; return 1; fi
  [ $# -eq 1 ] || { _lc_say "usage: cluster_up DIR"; return 2; }
  mkdir -p "$1" || return 1
  LC_DIR=$(cd "$1" && pwd) || return 1
  LC_INSTALLED='' LC_PIDS=''
  chmod 755 "$LC_DIR"
  mkdir -p "$LC_DIR/log" "$LC_DIR/munge" "$LC_DIR/state" "$LC_DIR/spool" "$LC_DIR/tmp"
  local d=$LC_DIR
  while [ "$d" != / ]; do  # munged's socket check (see above)
    d=$(dirname "$d")
    if [ "$(( 0$(stat -c %a "$d") & 1 ))" -eq 0 ]; then
      _lc_fail "$d is not searchable by all (munged's socket is to be in $LC_DIR): chmod o+x it"
      return 1
    fi
  done

  _lc_install || { _lc_fail "could not install the packages"; return 1; }

  local host port cpus mem
  _lc_deadline=$((SECONDS + 60))  # for the three daemons to come up
  host=$(hostname -s)
  cpus=$(nproc)
  # slurmd's own count when it has one (a node configured with more memory than slurmd finds
  # would be drained), else /proc/meminfo.
  mem=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  [ -n "$mem" ] || mem=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
  port=$(_lc_ports) || { _lc_fail "no free port pair from ${LOCAL_CLUSTER_PORT:-16817}"; return 1; }

  # MUNGE: a key of our own, our own socket, pid file and log.
  local m=$LC_DIR/munge
  chmod 755 "$m"
  (umask 077 && head -c 1024 /dev/urandom > "$m/munge.key")
  _lc_start munged munged -F --socket="$m/munge.sock" --key-file="$m/munge.key" \
    --pid-file="$m/munged.pid" --seed-file="$m/munged.seed" --log-file="$LC_DIR/log/munged.log"
  _lc_pid_munged=$_lc_last_pid
  _lc_until "$_lc_pid_munged" _lc_munge_ok "$m/munge.sock" ||
    { _lc_fail "munged did not come up"; return 1; }

  cat > "$LC_DIR/slurm.conf" <<EOF
# Written by tests/slurm/local_cluster.sh: a one-node test cluster, everything under $LC_DIR.
ClusterName=gdpolocal
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire: also how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$m/munge.sock,cred_expire=5
StateSaveLocation=$LC_DIR/state
SlurmdSpoolDir=$LC_DIR/spool
# mpi/pmix makes its per-step directories (spmix_appdir_UID_JOB.STEP) under TmpFS, /tmp by
# default: a stale one left by a killed cluster makes the step of the same number fail to launch
# in the next ("task 0 launch failed"), as job numbers start at 1 in every cluster.
TmpFS=$LC_DIR/tmp
SlurmctldPidFile=$LC_DIR/slurmctld.pid
SlurmdPidFile=$LC_DIR/slurmd.pid
SlurmctldLogFile=$LC_DIR/log/slurmctld.log
SlurmdLogFile=$LC_DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups in this container: processes are tracked by parent pid, tasks are not bound.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=2
MinJobAge=300
SlurmdTimeout=30
SlurmctldTimeout=30
SchedulerParameters=sched_interval=2,bf_interval=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LC_DIR/log/jobcomp.txt
MailProg=/bin/true
PlugStackConfig=$LC_DIR/plugstack.conf
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  : > "$LC_DIR/plugstack.conf"  # not /etc/slurm's
  export SLURM_CONF=$LC_DIR/slurm.conf

  _lc_start slurmctld slurmctld -D -f "$SLURM_CONF"
  _lc_pid_slurmctld=$_lc_last_pid
  _lc_until "$_lc_pid_slurmctld" _lc_ctld_ok || { _lc_fail "slurmctld did not come up"; return 1; }

  _lc_start slurmd slurmd -D -N "$host" -f "$SLURM_CONF"
  _lc_pid_slurmd=$_lc_last_pid
  if ! _lc_until "$_lc_pid_slurmd" _lc_node_idle "$host"; then
    _lc_fail "the node is not idle ($(sinfo -h -n "$host" -o %T 2>/dev/null))"
    return 1
  fi
  _lc_say "up: node $host, $cpus CPUs, ${mem} MB, ports $port-$((port + 1)), SLURM_CONF=$SLURM_CONF"
}

# The processes of this cluster still alive: those with GDPO_LOCAL_CLUSTER=DIR (the daemons) or
# SLURM_CONF=DIR/slurm.conf (slurmstepd, which slurmd starts with that variable, and the jobs'
# processes, which inherit it from sbatch's environment) in their environment; not this shell or
# its ancestors. Call it with SLURM_CONF unset, lest it find its own pipeline.
_lc_marked() {
  local f pid mine=" " p=$$
  while [ -n "$p" ] && [ "$p" -gt 1 ]; do
    mine+="$p "
    p=$(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null)
  done
  mine+="$BASHPID "
  for f in /proc/[0-9]*/environ; do
    pid=${f#/proc/}; pid=${pid%/environ}
    case $mine in *" $pid "*) continue ;; esac
    if { tr '\0' '\n' < "$f"; } 2>/dev/null |
      grep -qxF -e "GDPO_LOCAL_CLUSTER=$LC_DIR" -e "SLURM_CONF=$LC_DIR/slurm.conf"; then
      echo "$pid"
    fi
  done
}

# TERM, then KILL after up to 5 s.
_lc_stop() {
  local pids=$* pid
  [ -z "$pids" ] && return 0
  kill -TERM $pids 2>/dev/null
  for _ in $(seq 1 50); do
    local left=
    for pid in $pids; do _lc_alive "$pid" && left=1; done
    [ -z "$left" ] && break
    sleep 0.1
  done
  for pid in $pids; do
    if _lc_alive "$pid"; then _lc_say "killing $pid"; kill -KILL "$pid" 2>/dev/null; fi
  done
  wait $pids 2>/dev/null  # reap our background jobs (no-op for others)
  return 0
}

# Cancels every job, stops what cluster_up started, purges what it installed, removes DIR.
# Safe to call twice, or when cluster_up failed half way.
cluster_down() {
  [ -z "${LC_DIR:-}" ] && return 0
  local rc=0
  export SLURM_CONF=$LC_DIR/slurm.conf
  if [ -n "${_lc_pid_slurmctld:-}" ] && _lc_alive "$_lc_pid_slurmctld"; then
    # Until no job is left, their processes gone (KillWait=2). Cancelled again and again: a job
    # may requeue itself when cancelled (slurm/train.sbatch does: scancel's SIGTERM makes the ranks
    # checkpoint and exit 75), and is then cancelled while pending.
    local jobs said=
    for _ in $(seq 1 60); do
      jobs=$(squeue -h -o %A 2>/dev/null | tr '\n' ' ')
      [ -z "${jobs// /}" ] && break
      [ -z "$said" ] && _lc_say "cancelling jobs $jobs" && said=1
      scancel $jobs 2>/dev/null
      sleep 0.5
    done
  fi
  local entry pid
  for entry in ${LC_PIDS:-}; do  # newest first: slurmd, slurmctld, munged
    pid=${entry%%:*}
    _lc_stop "$pid"
  done
  unset SLURM_CONF
  local stray
  stray=$(_lc_marked | tr '\n' ' ')
  if [ -n "${stray// /}" ]; then  # slurmstepd ignores TERM: killed after 5 s
    _lc_say "stopping leftover processes of the cluster: $stray"
    _lc_stop $stray
  fi
  _lc_purge || rc=1
  rm -rf "$LC_DIR"
  unset LC_DIR LC_PIDS LC_INSTALLED LC_WERE_RC
  unset _lc_last_pid _lc_pid_munged _lc_pid_slurmctld _lc_pid_slurmd
  return $rc
}

# job_field JOBID FIELD: a field of `scontrol show job` (JobState, Restarts, ExitCode, Reason...).
job_field() {
  scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

# job_state JOBID: the job's state; from the jobcomp log once slurmctld has forgotten the job.
job_state() {
  local s
  s=$(job_field "$1" JobState)
  if [ -z "$s" ] && [ -n "${LC_DIR:-}" ] && [ -f "$LC_DIR/log/jobcomp.txt" ]; then
    s=$(grep "^JobId=$1 " "$LC_DIR/log/jobcomp.txt" | tail -1 | tr ' ' '\n' |
      sed -n 's/^JobState=//p')
  fi
  echo "${s:-UNKNOWN}"
}

# job_final STATE: whether a job in STATE has ended for good (a requeued job is PENDING again).
job_final() {
  case $1 in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | \
      PREEMPTED | SPECIAL_EXIT) return 0 ;;
  esac
  return 1
}

# wait_job JOBID TIMEOUT_S: until the job has ended (a requeued job has not); prints its final
# state and returns 0, or prints the state it is still in and returns 1 after TIMEOUT_S seconds.
# The state is also left in WAIT_JOB_STATE: call it as `wait_job ID T >/dev/null` rather than
# `st=$(wait_job ID T)` to wait in the calling shell itself, whose traps (an INT or TERM that
# should bring the cluster down) bash would otherwise hold back until the command substitution
# ends, that is until the job does.
wait_job() {
  local id=$1 deadline=$((SECONDS + $2)) s
  while :; do
    s=$(job_state "$id")
    # shellcheck disable=SC2034  # for the caller
    WAIT_JOB_STATE=$s
    if job_final "$s"; then echo "$s"; return 0; fi
    if [ "$SECONDS" -ge "$deadline" ]; then echo "$s"; return 1; fi
    sleep 1
  done
}
