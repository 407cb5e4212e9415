# The web host (SignalR hub, overlay, tablet, REST) on its own: the aqa image with the web role as its command and
# port 5080 exposed. Build from the repository root:  docker build -f deploy/web.Dockerfile -t aqastream/web .
FROM aqastream/aqa:latest
EXPOSE 5080
HEALTHCHECK --interval=10s --timeout=3s CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/5080"]
CMD ["serve", "--roles", "web", "--host", "0.0.0.0", "--port", "5080"]
