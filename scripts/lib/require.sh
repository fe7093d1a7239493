# Sourced by the scripts: checks for the tools they need and says how to get what is missing, instead of
# failing later with "command not found" or a Maven error about the release level.

# require_java17: a JDK of release 17 or later on the PATH.
require_java17() {
  if ! command -v java >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
    echo "$0: needs a Java 17 (or later) JDK: install it with 'sudo apt-get install openjdk-17-jdk-headless'" \
      "(Debian/Ubuntu) or from https://adoptium.net, and put its bin/ on the PATH" >&2
    exit 2
  fi
  local version
  version=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  if [ -z "$version" ] || [ "${version%%.*}" -lt 17 ] 2>/dev/null; then
    echo "$0: needs Java 17 or later, found ${version:-an unknown version} ($(command -v java));" \
      "install openjdk-17-jdk-headless or point JAVA_HOME and PATH at a newer JDK" >&2
    exit 2
  fi
}

# require_maven: Maven 3 on the PATH.
require_maven() {
  if ! command -v mvn >/dev/null 2>&1; then
    echo "$0: needs Maven 3.8 or later: install it with 'sudo apt-get install maven' (Debian/Ubuntu) or from" \
      "https://maven.apache.org/download.cgi" >&2
    exit 2
  fi
}

# require_go: the Go toolchain (test fixtures only).
require_go() {
  if ! command -v go >/dev/null 2>&1; then
    echo "$0: needs Go 1.26 or later to build the test fixtures (kube-apiserver, etcd releases): install it" \
      "from https://go.dev/dl and put its bin/ on the PATH" >&2
    exit 2
  fi
}
