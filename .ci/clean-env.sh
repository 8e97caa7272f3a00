# Source me: `clean` is a command prefix (an array) that runs a command with no Rust toolchain on
# PATH — the system directories and node's — keeping HOME and the certificate, proxy and mirror
# settings pip and npm need to reach their registries.
node_dir=$(dirname "$(command -v node 2>/dev/null || echo /usr/bin/node)")
clean=(env -i HOME="$HOME" PATH="/usr/local/bin:/usr/bin:/bin:$node_dir")
for v in SSL_CERT_FILE SSL_CERT_DIR REQUESTS_CA_BUNDLE CURL_CA_BUNDLE PIP_CERT PIP_INDEX_URL PIP_EXTRA_INDEX_URL \
         PIP_FIND_LINKS NODE_EXTRA_CA_CERTS npm_config_registry HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
  [ -n "${!v:-}" ] && clean+=("$v=${!v}")
done
unset v node_dir
# refuse to prove nothing: the clean PATH must not reach cargo or rustc
if "${clean[@]}" sh -c 'command -v cargo || command -v rustc' >/dev/null; then
  echo "cargo or rustc is on the clean PATH (${clean[2]}): the no-toolchain checks would prove nothing" >&2
  exit 1
fi
