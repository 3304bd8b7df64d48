#!/usr/bin/env bash
# Profile semantics: extends merging, paths relative to the file that names them, null resets,
# sizes, and what a profile implies for the preseed.
. "$(dirname "$0")/../lib.sh"
cd "$TMP" || exit 1
mkdir -p base/keys app
cp "$TOP/profiles/keys/example-repo.asc" base/keys/r.asc
cat > base/base.yaml <<'X'
release: bookworm
domain: corp.example.org
packages: [htop, vim]
disk: {size: 30G, layout: home, filesystem: btrfs}
repos:
  - {name: corp, url: "http://apt.corp.example.org/debian", key_file: keys/r.asc}
X
cat > app/app.yaml <<'X'
extends: ../base/base.yaml
name: app
packages: [nginx]
domain:
disk: {layout: atomic}
X
# app/ extends ../base/: beneath the folder given with --profile-root, not beneath app/ alone
"$KILN" preseed app/app.yaml > /dev/null 2> err; check_eq "extends out of the profile's folder is refused" 2 $?
check_eq "the refusal is located" "kiln: app/app.yaml:1:10: 'extends': cannot use '../base/base.yaml': it leads outside the profile's folder (through '..' or a symlink); kiln reads files beneath it only, unless run with --trust-profile-paths" "$(cat err)"
"$KILN" preseed --profile-root . app/app.yaml > p.cfg 2> err; check_eq "two-file chain builds" 0 $?
grep -q '^# from: app/app.yaml, base/base.yaml$' p.cfg && ok "preseed names the chain" || not_ok "preseed names the chain" "$(sed -n 2p p.cfg)"
grep -q '^d-i pkgsel/include string nginx$' p.cfg && ok "lists replace" || not_ok "lists replace" "$(grep pkgsel/include p.cfg)"
grep -q '^d-i partman/default_filesystem string btrfs$' p.cfg && grep -q '^d-i partman-auto/choose_recipe select atomic$' p.cfg &&
        ok "maps merge key by key" || not_ok "maps merge key by key"
grep -q '^d-i netcfg/get_domain string$' p.cfg && ok "null in the child resets to the default" || not_ok "null resets" "$(grep get_domain p.cfg)"
grep -q '^d-i mirror/suite string bookworm$' p.cfg && ok "scalars inherit" || not_ok "scalars inherit"
grep -q '^d-i apt-setup/local0/key string file:///kiln/keys/corp.asc$' p.cfg && ok "repo key travels as a file" || not_ok "repo key travels as a file"
"$KILN" --profile-root . validate app/app.yaml > /dev/null 2>&1 && ok "key_file resolves against the file that names it" || not_ok "key_file resolves relative to base/"

# a parent that fails is one error at the 'extends' naming it, quoting nothing of it; the child's
# own errors are still all reported in the same run
printf 'release: trixie\nvm: {cpus: 0}\n' > parent.yaml
printf 'extends: parent.yaml\nname: c\ndisk: {size: 1T, layout: zfs}\n' > child.yaml
"$KILN" validate child.yaml 2> err
check_eq "errors across the chain" "kiln: child.yaml:1:10: 'extends': 'parent.yaml' does not load as a profile; kiln shows nothing of a file it extends that fails, so check that file on its own
kiln: child.yaml:3:26: 'disk.layout' must be one of 'atomic', 'home', 'multi', 'lvm' (got 'zfs')" "$(cat err)"
# a parent that loads is quoted where its values clash with the merged profile's checks
printf 'release: trixie\nrepos:\n  - {name: r, key: x}\n' > parent2.yaml
printf 'extends: parent2.yaml\nname: c\n' > child2.yaml
"$KILN" validate child2.yaml 2> err; check_eq "a parent that fails its own checks is not quoted" 2 $?
grep -q "'x'" err && not_ok "nothing of a failing parent in messages" "$(cat err)" || ok "nothing of a failing parent in messages"

# sizes: powers of 1024, K to T, iB accepted
for s in 2G 2048M 2097152K 2GiB 1T; do
        printf 'name: s\nrelease: trixie\ndisk: {size: %s}\n' "$s" > s.yaml
        "$KILN" validate -q s.yaml 2>/dev/null && ok "size $s accepted" || not_ok "size $s accepted"
done
printf 'name: s\nrelease: trixie\ndisk: {size: 2047M}\n' > s.yaml
"$KILN" validate s.yaml 2>/dev/null; check_eq "2047M is under the 2G minimum" 2 $?

# release numbers are names too
printf 'name: n\nrelease: 12\n' > n.yaml
"$KILN" preseed n.yaml 2>/dev/null | grep -q '^d-i mirror/suite string bookworm$' && ok "release: 12 is bookworm" || not_ok "release: 12 is bookworm"

# aliases within the bound work
cat > alias.yaml <<'X'
name: alias
release: trixie
x-keys: &keys ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPcSSn+y1dzPgc4EPdUW/uFUfU1NaQZTxx0c0GTe5lyl a@b"]
X
"$KILN" validate -q alias.yaml 2> err; check_eq "x- keys at the top hold anchors" 0 $?
printf 'name: a\nrelease: trixie\ndisk: {x-note: 1}\n' > alias2.yaml
"$KILN" validate alias2.yaml 2> err; check_eq "x- keys only at the top" 2 $?
cat > alias.yaml <<'X'
name: alias
release: trixie
root:
  ssh_keys: &keys ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPcSSn+y1dzPgc4EPdUW/uFUfU1NaQZTxx0c0GTe5lyl a@b"]
users:
  - {name: a, ssh_keys: *keys}
  - {name: b, ssh_keys: *keys}
X
"$KILN" preseed alias.yaml > p.cfg 2>/dev/null; check_eq "aliases expand" 3 "$(grep -o 'AAAAC3NzaC1lZDI1NTE5AAAAIPcSSn' p.cfg | wc -l)"
# YAML merge keys and x- keys for anchors: own keys win, then earlier sources; '<<' replaces, never deep-merges
cat > merge.yaml <<'X'
x-base: &base {release: trixie, timezone: Europe/Berlin, disk: {size: 30G}}
x-extra: &extra {timezone: Asia/Tokyo, locale: de_DE.UTF-8}
name: merged
<<: [*base, *extra]
locale: C.UTF-8
X
"$KILN" preseed merge.yaml > m.cfg 2>/dev/null; check_eq "merge keys build" 0 $?
check_eq "earlier merge source wins" "Europe/Berlin" "$(sed -n 's/^d-i time\/zone string //p' m.cfg)"
check_eq "own key wins over merged" "C.UTF-8" "$(sed -n 's/^d-i debian-installer\/locale string //p' m.cfg)"
printf 'name: m\nrelease: trixie\ndisk: {swap: 0}\ndomain: Example.ORG\n' > z.yaml
"$KILN" preseed z.yaml 2>/dev/null | grep -q 'no_swap boolean false' && ok "swap: 0 means none" || not_ok "swap: 0 means none"
finish
