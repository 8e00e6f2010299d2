# halab for CI pipelines: the CLI in an image that drives the host's Docker
# engine through its socket. Build from the repository root after
# `cargo build --release` (there is no Rust toolchain in the base and no
# registry to fetch one from, so the binary is built on the host):
#
#   cargo build --release
#   ./target/release/halab image build        # the base image, offline
#   docker build -t halab-cli .
#   docker run --rm --network host -v /var/run/docker.sock:/var/run/docker.sock \
#     -v "$PWD:/work" halab-cli test --up
#
# --network host: the lab publishes its proxy on the host's 127.0.0.1, which
# the probe must reach. No mmdebstrap inside: halab here uses the host
# engine, where `halab image build` already put the base image.

# The image `halab image build` makes; it has the same Debian (glibc) as the
# host the binary was built on.
ARG BASE=halab-base:bookworm
FROM ${BASE}

# Path of the host-built binary inside the build context.
ARG HALAB_BIN=target/release/halab
COPY ${HALAB_BIN} /usr/local/bin/halab
# The shipped labs, and the templates as a starting point for `--templates`
# (halab carries its own copy of them; it does not read these).
COPY labs/ /usr/share/halab/labs/
COPY templates/ /usr/share/halab/templates/
# Fails the build at once if the binary cannot run on this base (glibc).
RUN halab --version

# `--lab` reads HALAB_LAB: the seed lab unless a job passes another file.
ENV HALAB_LAB=/usr/share/halab/labs/nginx-keepalived.yaml
WORKDIR /work
ENTRYPOINT ["halab"]
CMD ["--help"]
