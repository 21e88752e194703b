#!/usr/bin/env bash
# Publishes Berth releases to the update location that electron-updater reads
# (publish.url in electron-builder.yml, i.e. BERTH_UPDATE_URL), and moves channels there.
# Used by .github/workflows/release.yml; docs/RELEASING.md describes the layout.
#
#   update-location.sh publish DIR CHANNEL...
#       DIR holds one release as electron-builder wrote it (latest.yml, latest-mac.yml,
#       latest-linux.yml, installers, zips, blockmaps). Uploads the installers and
#       blockmaps, an archive copy of the manifests under manifests/<version>/, and
#       finally the manifests as <channel>.yml, <channel>-mac.yml, <channel>-linux.yml
#       for each CHANNEL. Manifests go last, so a client never reads a manifest that
#       names a file not uploaded yet.
#
#   update-location.sh promote FROM [PERCENT]
#       Points the latest channel at FROM: "beta" (the current beta manifests) or a
#       version (its archived manifests; this is also how to roll back). With PERCENT
#       below 100, the manifests get stagingPercentage: PERCENT (a staged rollout).
#       A prerelease version (1.5.0-beta.2) is refused unless UPDATE_ALLOW_PRERELEASE=1.
#
# The update location is chosen by the environment, first match wins:
#   UPDATE_DIR            a directory (a mounted share, or a local dry run)
#   UPDATE_S3_URI         s3://bucket/prefix, with the usual AWS_* credentials for the aws CLI;
#                         UPDATE_S3_ENDPOINT for S3-compatible stores (R2, MinIO, Spaces)
#   UPDATE_RSYNC_TARGET   user@host:/path for rsync over ssh (the caller sets up ssh;
#                         both ends need rsync 3.2.3 or later, for --mkpath)

set -euo pipefail

PLATFORM_SUFFIXES=("" "-mac" "-linux")

die() {
  echo "update-location: $*" >&2
  exit 1
}

backend() {
  if [[ -n "${UPDATE_DIR:-}" ]]; then
    echo dir
  elif [[ -n "${UPDATE_S3_URI:-}" ]]; then
    echo s3
  elif [[ -n "${UPDATE_RSYNC_TARGET:-}" ]]; then
    echo rsync
  else
    die "no update location: set UPDATE_DIR, UPDATE_S3_URI or UPDATE_RSYNC_TARGET"
  fi
}

s3() {
  local endpoint=()
  if [[ -n "${UPDATE_S3_ENDPOINT:-}" ]]; then endpoint=(--endpoint-url "$UPDATE_S3_ENDPOINT"); fi
  aws ${endpoint[@]+"${endpoint[@]}"} s3 "$@"
}

# put LOCAL_FILE REMOTE_NAME
put() {
  local file=$1 name=$2
  echo "  put $name"
  case "$BACKEND" in
    dir)
      mkdir -p "$(dirname "$UPDATE_DIR/$name")"
      # Copy then rename, so a reader never sees half a file.
      cp "$file" "$UPDATE_DIR/$name.partial"
      mv -f "$UPDATE_DIR/$name.partial" "$UPDATE_DIR/$name"
      ;;
    s3)
      local cache=()
      # Manifests change in place; clients and CDNs must not keep an old one.
      if [[ "$name" == *.yml ]]; then cache=(--cache-control "no-cache, max-age=0"); fi
      s3 cp --only-show-errors ${cache[@]+"${cache[@]}"} "$file" "${UPDATE_S3_URI%/}/$name"
      ;;
    rsync)
      # --delay-updates writes to a temporary name and renames at the end.
      rsync --mkpath --delay-updates --times --chmod=F644 "$file" "${UPDATE_RSYNC_TARGET%/}/$name"
      ;;
  esac
}

# get REMOTE_NAME LOCAL_FILE (fails if the remote file does not exist)
get() {
  local name=$1 file=$2
  echo "  get $name"
  case "$BACKEND" in
    dir) cp "$UPDATE_DIR/$name" "$file" ;;
    s3) s3 cp --only-show-errors "${UPDATE_S3_URI%/}/$name" "$file" ;;
    rsync) rsync "${UPDATE_RSYNC_TARGET%/}/$name" "$file" ;;
  esac
}

manifest_version() {
  sed -n 's/^version: *//p' "$1" | head -n 1 | tr -d "'\""
}

publish() {
  local dir=$1
  shift
  [[ $# -gt 0 ]] || die "publish needs at least one channel"
  [[ -f "$dir/latest.yml" ]] || die "$dir/latest.yml not found: is $dir an electron-builder output directory?"
  local version
  version=$(manifest_version "$dir/latest.yml")
  [[ -n "$version" ]] || die "no version in $dir/latest.yml"

  for suffix in "${PLATFORM_SUFFIXES[@]}"; do
    [[ -f "$dir/latest$suffix.yml" ]] || die "$dir/latest$suffix.yml not found: every platform must be built before publishing"
    local other
    other=$(manifest_version "$dir/latest$suffix.yml")
    [[ "$other" == "$version" ]] || die "latest$suffix.yml is version $other, latest.yml is $version"
  done

  echo "publishing Berth $version to channel(s): $*"
  local file
  for file in "$dir"/*; do
    [[ -f "$file" ]] || continue
    case "$(basename "$file")" in
      *.exe | *.dmg | *.zip | *.AppImage | *.deb | *.blockmap) put "$file" "$(basename "$file")" ;;
    esac
  done
  for suffix in "${PLATFORM_SUFFIXES[@]}"; do
    put "$dir/latest$suffix.yml" "manifests/$version/latest$suffix.yml"
  done
  local channel
  for channel in "$@"; do
    for suffix in "${PLATFORM_SUFFIXES[@]}"; do
      put "$dir/latest$suffix.yml" "$channel$suffix.yml"
    done
  done
}

promote() {
  local from=$1 percent=${2:-100}
  [[ "$percent" =~ ^[0-9]+$ && "$percent" -ge 1 && "$percent" -le 100 ]] || die "percent must be 1..100, got $percent"
  local work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN

  local suffix source
  # Fetch everything first: a missing platform aborts before latest changes at all.
  for suffix in "${PLATFORM_SUFFIXES[@]}"; do
    if [[ "$from" == "beta" ]]; then source="beta$suffix.yml"; else source="manifests/$from/latest$suffix.yml"; fi
    get "$source" "$work/latest$suffix.yml" || die "cannot read $source from the update location"
    # A staged rollout is a property of this promotion, not of what was copied.
    sed -i.bak '/^stagingPercentage:/d' "$work/latest$suffix.yml"
    if [[ "$percent" -lt 100 ]]; then echo "stagingPercentage: $percent" >>"$work/latest$suffix.yml"; fi
  done

  local version
  version=$(manifest_version "$work/latest.yml")
  if [[ "$version" == *-* && "${UPDATE_ALLOW_PRERELEASE:-}" != 1 ]]; then
    die "$from is the prerelease $version; set UPDATE_ALLOW_PRERELEASE=1 to give it to every user anyway"
  fi
  echo "promoting Berth $version from $from to latest ($percent% of users)"
  for suffix in "${PLATFORM_SUFFIXES[@]}"; do
    put "$work/latest$suffix.yml" "latest$suffix.yml"
  done
}

case "${1:-}" in
  publish | promote) BACKEND=$(backend) ;;
esac

case "${1:-}" in
  publish)
    [[ $# -ge 3 ]] || die "usage: update-location.sh publish DIR CHANNEL..."
    shift
    publish "$@"
    ;;
  promote)
    [[ $# -ge 2 && $# -le 3 ]] || die "usage: update-location.sh promote FROM [PERCENT]"
    shift
    promote "$@"
    ;;
  *)
    die "usage: update-location.sh publish DIR CHANNEL... | promote FROM [PERCENT]"
    ;;
esac
