#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# nginx-check.sh FRAGMENT: `nginx -t` on an http-block fragment (what
# nginx.conf.mustache renders), inside a minimal main configuration of its
# own, so the fragment is checked before it replaces the live one. For a
# templates entry: check_cmd = ["/usr/share/zkdisc/templates/nginx-check.sh", "{{path}}"].
set -eu
fragment=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/nginx.conf" <<CONF
pid $dir/nginx.pid;
error_log stderr;
events { }
http {
    access_log off;
    client_body_temp_path $dir;
    proxy_temp_path $dir;
    fastcgi_temp_path $dir;
    uwsgi_temp_path $dir;
    scgi_temp_path $dir;
    include $fragment;
}
CONF
exec nginx -t -q -e stderr -p "$dir" -c "$dir/nginx.conf"
