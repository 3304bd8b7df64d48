#!/usr/bin/env bash
# What the generator writes for each modeled key, and that the commands it chains are sound shell.
. "$(dirname "$0")/../lib.sh"
cd "$TMP" || exit 1
value_of() { sed -n "s|^$1 [a-z]* ||p" "$2"; }

cat > q.yaml <<'X'
name: quoting
release: trixie
users:
  - name: bob
    password: "$y$j9T$abcdefghijklmnop$0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"
    shell: /bin/zsh
    ssh_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPcSSn+y1dzPgc4EPdUW/uFUfU1NaQZTxx0c0GTe5lyl bob's key"]
late_commands:
  - echo "it's $HOME" > /tmp/x
  - test -d /etc
installer:
  early_commands: ["echo early 'one'"]
  extra_args: [quiet]
preseed:
  "d-i pkgsel/upgrade": "select none"
  "d-i netcfg/dhcp_timeout": "string 60"
X
"$KILN" preseed q.yaml > p.cfg 2> err; check_eq "quoting profile builds" 0 $?
late=$(value_of 'd-i preseed/late_command' p.cfg)
early=$(value_of 'd-i preseed/early_command' p.cfg)
sh -n -c "$late" && ok "late_command is valid sh" || not_ok "late_command is valid sh" "$late"
sh -n -c "$early" && ok "early_command is valid sh" || not_ok "early_command is valid sh" "$early"
# debian-installer's debconf hands "\n" in a value back as a line break (a real install's
# finish-install stopped on a late_command cut in two that way), so what kiln itself writes into
# the late_command (users, sudoers, SSH keys, GRUB defaults) carries no backslash at all.
cat > k.yaml <<'X'
name: kilnparts
release: trixie
bootloader: host
users:
  - name: ann
    sudo: nopasswd
    ssh_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPcSSn+y1dzPgc4EPdUW/uFUfU1NaQZTxx0c0GTe5lyl ann"]
root:
  ssh_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPcSSn+y1dzPgc4EPdUW/uFUfU1NaQZTxx0c0GTe5lyl root"]
X
"$KILN" preseed k.yaml > k.cfg 2> /dev/null
klate=$(value_of 'd-i preseed/late_command' k.cfg)
[ -n "$klate" ] && ! grep -q '\\' <<<"$klate" && ok "kiln's own late_command parts carry no backslash" ||
        not_ok "no backslash in kiln's late_command" "$klate"
mkdir -p kt/target/etc/default kt/target/home/ann kt/target/root kt/target/etc/sudoers.d kt/bin
printf '#!/bin/sh\nexit 0\n' > kt/bin/in-target; chmod +x kt/bin/in-target
(cd kt && PATH="$PWD/bin:$PATH" sh -c "$(sed 's|/target|target|g' <<<"$klate")") 2> kt.err
check_eq "GRUB defaults written line by line" 3 "$(wc -l < kt/target/etc/default/grub.d/kiln.cfg 2>/dev/null)"
grep -q '^GRUB_CMDLINE_LINUX="console=ttyS0,115200n8"$' kt/target/etc/default/grub.d/kiln.cfg 2>/dev/null &&
        ok "GRUB defaults hold the profile's kernel_args" || not_ok "GRUB defaults" "$(cat kt.err kt/target/etc/default/grub.d/kiln.cfg 2>&1)"
check_eq "root's authorized_keys: one key per line" "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPcSSn+y1dzPgc4EPdUW/uFUfU1NaQZTxx0c0GTe5lyl root" "$(cat kt/target/root/.ssh/authorized_keys 2>/dev/null)"
check_eq "sudoers line" "ann ALL=(ALL:ALL) NOPASSWD:ALL" "$(cat kt/target/etc/sudoers.d/kiln-ann 2>/dev/null)"

# A user's command with a backslash gets a located warning (it still validates).
printf 'name: b\nrelease: trixie\nroot: {ssh_keys: [ssh-ed25519 AAAAC3Nza x]}\nlate_commands:\n  - printf "a\\\\n" > /x\n' > bs.yaml
"$KILN" validate -q bs.yaml 2> bs.err; rc=$?
[ $rc -eq 0 ] && grep -q "bs.yaml:5:5: this command contains a backslash" bs.err && ok "a backslash in a late command is warned about, with its place" ||
        not_ok "backslash warning" "rc=$rc" "$(cat bs.yaml bs.err)"

# Run the chain with in-target recording its argv: each command reaches the target as one intact word.
mkdir -p target
in_target_log=$PWD/argv.log
run_late=$(printf '%s' "$late" | sed "s|/target|$PWD/target|g")
mkdir -p shim
printf '#!/bin/sh\nprintf "[%%s]" "$@" >> "$LOG"; echo >> "$LOG"\n' > shim/in-target
chmod +x shim/in-target
env -i PATH="$PWD/shim:$PATH" LOG="$in_target_log" sh -c "$run_late"
check_eq "useradd gets the hash intact" "[useradd][-m][-s][/bin/zsh][-p][\$y\$j9T\$abcdefghijklmnop\$0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef][bob]" "$(sed -n 1p argv.log)"
check_eq "late command 1 intact" "[sh][-c][echo \"it's \$HOME\" > /tmp/x]" "$(sed -n 3p argv.log)"
check_eq "late command 2 intact" "[sh][-c][test -d /etc]" "$(sed -n 4p argv.log)"
check_eq "ssh key written with its quote" "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPcSSn+y1dzPgc4EPdUW/uFUfU1NaQZTxx0c0GTe5lyl bob's key" "$(cat target/home/bob/.ssh/authorized_keys)"
check_eq "authorized_keys mode" 600 "$(stat -c %a target/home/bob/.ssh/authorized_keys)"
check_eq "raw entry overrides a default in place" "none" "$(value_of 'd-i pkgsel/upgrade' p.cfg)"
check_eq "raw entry kiln does not model is appended" "60" "$(value_of 'd-i netcfg/dhcp_timeout' p.cfg)"
check_eq "one late_command" 1 "$(grep -c '^d-i preseed/late_command ' p.cfg)"

# sudo without a password gets NOPASSWD; sudo pulls in the sudo package; keys pull in an SSH server
cat > s.yaml <<'X'
name: s
release: trixie
tasks: [standard]
users: [{name: op, sudo: true, ssh_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPcSSn+y1dzPgc4EPdUW/uFUfU1NaQZTxx0c0GTe5lyl op"]}]
X
"$KILN" preseed s.yaml > s.cfg 2>/dev/null
check_eq "implied packages" "sudo openssh-server" "$(value_of 'd-i pkgsel/include' s.cfg)"
grep -q "op ALL=(ALL:ALL) NOPASSWD:ALL" s.cfg && ok "passwordless sudoer gets NOPASSWD" || not_ok "passwordless sudoer gets NOPASSWD"
check_eq "tasks" "standard" "$(value_of 'tasksel tasksel/first' s.cfg)"

# no credentials: warned, root locked
printf 'name: bare\nrelease: trixie\n' > bare.yaml
"$KILN" preseed bare.yaml > bare.cfg 2> err
grep -q "warning: bare.yaml: no credentials" err && ok "no credentials warns" || not_ok "no credentials warns"
check_eq "root locked" "*" "$(value_of 'd-i passwd/root-password-crypted' bare.cfg)"
check_eq "no user made by the installer" "false" "$(value_of 'd-i passwd/make-user' bare.cfg)"
check_eq "console on the installed kernel" "console=ttyS0,115200n8" "$(value_of 'd-i debian-installer/add-kernel-opts' bare.cfg)"
grep -q '^d-i mirror/http/proxy' bare.cfg && not_ok "no proxy in the preseed (it is run-dependent)" || ok "no proxy in the preseed (it is run-dependent)"
grep -q '^d-i partman-auto/disk' bare.cfg && not_ok "no disk in the preseed (it is run-dependent)" || ok "no disk in the preseed (it is run-dependent)"

# swap: none and a sized swap become expert recipes
printf 'name: sw\nrelease: trixie\ndisk: {swap: none}\n' > sw.yaml
"$KILN" preseed sw.yaml > sw.cfg 2>/dev/null
grep -q '^d-i partman-basicfilesystems/no_swap boolean false$' sw.cfg && ok "swap none: no warning question" || not_ok "swap none"
grep -q 'linux-swap' sw.cfg && not_ok "swap none: no swap partition" || ok "swap none: no swap partition"
printf 'name: sw\nrelease: trixie\ndisk: {swap: 512M, layout: multi}\n' > sw.yaml
"$KILN" preseed sw.yaml > sw.cfg 2>/dev/null
grep -q ' 512 512 512 linux-swap ' sw.cfg && grep -q 'mountpoint{ /var }' sw.cfg && ok "sized swap in a multi recipe" || not_ok "sized swap in a multi recipe"

# Install speed (tuning): each option emits its lines or none. What they change is undone by kiln's
# finish-install hook, not the late command (tests/preseed-gen/t-hooks.sh runs the hooks).
printf 'name: tu\nrelease: trixie\nlate_commands: ["apt-get install -y jq"]\n' > tu.yaml
"$KILN" preseed tu.yaml > tu.cfg 2>/dev/null
check_eq "tuning default: eatmydata-udeb from the mirror" "eatmydata-udeb" "$(value_of 'd-i anna/choose_modules' tu.cfg)"
check_eq "tuning default: man-db's auto-update off" "false" "$(value_of 'man-db man-db/auto-update' tu.cfg)"
check_eq "tuning default: a targeted initramfs (base-installer's driver policy dep)" "dep" "$(value_of 'd-i base-installer/initramfs-tools/driver-policy' tu.cfg)"
printf 'name: tu\nrelease: trixie\nlate_commands: ["apt-get install -y jq"]\ntuning: {eatmydata: false, defer_man_db: false, defer_initramfs: false, initramfs: most}\n' > off.yaml
"$KILN" preseed off.yaml > off.cfg 2>/dev/null
grep -q -e 'anna/choose_modules' -e 'man-db/auto-update' -e 'eatmydata' -e 'mandb' -e 'Install speed' -e 'driver-policy' off.cfg &&
        not_ok "tuning off: no tuning line" "$(grep -e eatmydata -e man-db off.cfg)" ||
        ok "tuning off: no tuning line"
check_eq "the late command is the same tuned or not (the tuning is undone after it)" \
        "$(value_of 'd-i preseed/late_command' off.cfg)" "$(value_of 'd-i preseed/late_command' tu.cfg)"

printf 'name: tu\nrelease: trixie\ntuning: {initramfs: dep}\n' > dep.yaml
"$KILN" preseed dep.yaml > dep.cfg 2>/dev/null
check_eq "tuning.initramfs dep: base-installer's targeted driver policy" "dep" "$(value_of 'd-i base-installer/initramfs-tools/driver-policy' dep.cfg)"
printf 'name: tu\nrelease: trixie\ntuning: {initramfs: tiny}\n' > bad.yaml
"$KILN" validate -q bad.yaml > /dev/null 2> bad.err
grep -q "bad.yaml:3:21: .*tuning.initramfs" bad.err && ok "tuning.initramfs: an unknown policy is a located error" || not_ok "tuning.initramfs bad value" "$(cat bad.err)"
# A raw answer to man-db/auto-update is the user's: kiln does not set it (nor restore it: t-hooks.sh).
printf 'name: tu\nrelease: trixie\npreseed:\n  "man-db man-db/auto-update": "boolean false"\n' > raw.yaml
"$KILN" preseed raw.yaml > raw.cfg 2>/dev/null
check_eq "raw man-db/auto-update: one answer, the user's" "1" "$(grep -c 'man-db/auto-update' raw.cfg)"

# the same profile gives the same preseed
"$KILN" preseed q.yaml > again.cfg 2>/dev/null
cmp -s p.cfg again.cfg && ok "preseed is deterministic" || not_ok "preseed is deterministic"
finish
