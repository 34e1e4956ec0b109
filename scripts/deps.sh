# deps.sh: sourced by ./check and ./quickstart. deps_install installs the
# Debian packages Postilion needs to build and test, when any is missing.
POSTILION_DEPS="build-essential autoconf automake libtool pkg-config \
libssl-dev libdb-dev libbsd-dev libcriterion-dev libcrypt-dev \
python3 curl swaks libnet-ssleay-perl openssl fetchmail dnsmasq-base fail2ban isync mutt iproute2"

deps_install() {
	missing=""
	for pkg in $POSTILION_DEPS; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
			grep -q "install ok installed" || missing="$missing $pkg"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages:$missing (run as root to install them)" >&2
		return 1
	fi
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null 2>&1 || true
	apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
		echo "apt-get install failed" >&2
		return 1
	}
}
