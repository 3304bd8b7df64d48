# shellcheck shell=bash disable=SC2034,SC2154 # slurm_stop, key and store: t-batch.sh owns them
# Sourced by t-batch.sh (it needs the seeded store and the archive fixture): a real single-node
# Slurm cluster (munged, slurmctld, slurmd from Debian's slurm-wlm) configured in a temp folder on
# 127.0.0.1, and kiln batch --executor slurm running the batch as one job array on it.
slurm_skip() { skip "kiln batch --executor slurm" "$1"; }
slurm_run() {
        for b in munged slurmctld slurmd sbatch scontrol squeue scancel; do
                command -v "$b" > /dev/null || { slurm_skip "no $b (apt-get install slurm-wlm munge)"; return; }
        done
        [ "$(id -u)" -eq 0 ] || { slurm_skip "starting slurmd needs root"; return; }
        local S=$TMP/slurm host port1 port2
        mkdir -p "$S"/{state,spool,munge} && chmod 700 "$S/munge"
        host=$(hostname -s)
        port1=$(py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        port2=$(py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        dd if=/dev/urandom of="$S/munge/munge.key" bs=1024 count=1 status=none && chmod 400 "$S/munge/munge.key"
        munged -f --key-file "$S/munge/munge.key" --socket "$S/munge/sock" --pid-file "$S/munge/pid" \
                --log-file "$S/munge/log" --seed-file "$S/munge/seed" 2> "$S/munged.err" ||
                { slurm_skip "munged did not start: $(head -2 "$S/munged.err")"; return; }
        cat > "$S/slurm.conf" <<X
ClusterName=kilntest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port1
SlurmdPort=$port2
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$S/munge/sock
CredType=cred/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$S/jobcomp.log
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=kiln Nodes=$host Default=YES MaxTime=INFINITE State=UP
X
        export SLURM_CONF=$S/slurm.conf
        slurm_stop="slurm_stop_now $S"
        slurmctld -i 2> "$S/ctld.err" || { slurm_skip "slurmctld did not start: $(tail -2 "$S/ctld.err")"; return; }
        slurmd 2> "$S/d.err" || { slurm_skip "slurmd did not start: $(tail -2 "$S/d.err")"; return; }
        local up=
        for _ in $(seq 60); do
                scontrol show node "$host" 2> /dev/null | grep -q "State=IDLE" && { up=1; break; }
                sleep 0.5
        done
        [ -n "$up" ] || { slurm_skip "the node did not come up: $(tail -3 "$S/slurmd.log" 2> /dev/null; scontrol show node 2>&1 | head -3)"; return; }
        ok "a single-node Slurm cluster runs here (munged, slurmctld, slurmd on 127.0.0.1)"

        "$KILN" batch "${C[@]}" --no-boot-test --executor slurm --partition kiln -j 2 --sbatch-arg=--time=10 \
                -O "$TMP/s" "$TMP/p/web.yaml" "$TMP/p/broken.yaml" "$TMP/p/web2.yaml" > /dev/null 2> "$TMP/slurm.err"
        rc=$?
        check_eq "slurm: a batch with one failure exits 1" 1 "$rc"
        local jobid
        jobid=$(sed -n 's/^\([0-9]*\)$/\1/p' "$TMP/s/.batch/jobid" 2> /dev/null)
        scontrol show job -o > "$TMP/scontrol" 2>&1
        py - "$TMP/s/batch.json" "$TMP/scontrol" "$key" > "$TMP/sj" 2>&1 <<'PY'
import json, re, sys
b = json.load(open(sys.argv[1])); j = {x["id"]: x for x in b["builds"]}
tasks = {}
for line in open(sys.argv[2]):
    t = re.search(r"ArrayTaskId=(\d+)", line); s = re.search(r"JobState=(\S+)", line)
    if t and s and "JobName=kiln-batch" in line:
        tasks[int(t.group(1))] = s.group(1)
assert tasks == {0: "COMPLETED", 1: "FAILED", 2: "COMPLETED"}, tasks
for i, (name, want) in enumerate([("web", "COMPLETED"), ("broken", "FAILED"), ("web2", "COMPLETED")]):
    assert j[name]["slurm_state"] == want == tasks[i], (name, j[name])
assert j["web"]["state"] == j["web2"]["state"] == "succeeded" and j["web"]["reused"] and j["web"]["key"] == sys.argv[3]
assert j["broken"]["state"] == "failed"
print("ok")
PY
        check_eq "slurm: scontrol shows the array's tasks COMPLETED/FAILED and kiln's batch.json matches" ok "$(cat "$TMP/sj")"
        cmp -s "$TMP/s/web2.qcow2" "$store/image" && ok "slurm: the tasks published their images into DIR" || not_ok "slurm outputs"
        # sacct, from the job completion log (no slurmdbd here: `sacct -c`): each task's own job id
        # and state, matched to its array index through scontrol, against kiln's table.
        sacct -c -n -X -P -o JobID,State > "$TMP/sacct" 2> "$TMP/sacct.err"
        py - "$TMP/s/batch.json" "$TMP/scontrol" "$TMP/sacct" "${jobid:-0}" > "$TMP/sa" 2>&1 <<'PY'
import json, re, sys
b = json.load(open(sys.argv[1])); j = {x["id"]: x for x in b["builds"]}
index = {}
for line in open(sys.argv[2]):
    m = re.search(r"JobId=(\d+) ArrayJobId=(\d+) ArrayTaskId=(\d+)", line)
    if m and m.group(2) == sys.argv[4]:
        index[m.group(1)] = int(m.group(3))
acct = {}
for line in open(sys.argv[3]):
    f = line.strip().split("|")
    if len(f) == 2 and f[0] in index:
        acct[index[f[0]]] = f[1]
assert acct == {0: "COMPLETED", 1: "FAILED", 2: "COMPLETED"}, acct
assert [j[n]["slurm_state"] for n in ("web", "broken", "web2")] == [acct[0], acct[1], acct[2]], j
print("ok")
PY
        check_eq "slurm: sacct shows the tasks COMPLETED/FAILED, as kiln's table says" ok "$(cat "$TMP/sa")" "$(head -3 "$TMP/sacct.err")"
}
# shellcheck disable=SC2317 # called through $slurm_stop
slurm_stop_now() {
        local S=$1
        for f in slurmd.pid slurmctld.pid munge/pid; do [ -s "$S/$f" ] && kill "$(cat "$S/$f")" 2> /dev/null; done
        sleep 0.5
}
slurm_run
