# Build: the same jar `mvn package` makes; run: a JRE and the jar.
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml .
RUN mvn -B -ntp -q dependency:go-offline
COPY conf conf
COPY sql sql
COPY src src
RUN mvn -B -ntp -q -DskipTests package

FROM eclipse-temurin:17-jre
RUN useradd --system --uid 10001 pulse && mkdir -p /app/data && chown pulse:pulse /app/data
WORKDIR /app
COPY --from=build /src/target/pulse.jar /app/pulse.jar
USER pulse
EXPOSE 8080 5701
# Give SIGTERM to the JVM itself: Pulse drains and exits 0.
ENTRYPOINT ["java", "-XX:MaxRAMPercentage=75", "-jar", "/app/pulse.jar"]
# bash, not sh: /dev/tcp is bash's (the image's sh is dash). Every node serves HTTP (workers for /health and /metrics).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${HTTP_PORT:-8080} && printf 'GET /health/ready HTTP/1.0\\r\\n\\r\\n' >&3 && head -1 <&3 | grep -q ' 200 '"]
