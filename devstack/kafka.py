"""A real Apache Kafka broker in KRaft combined mode (single node), jars from Maven Central."""

from __future__ import annotations

import base64
import logging
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from devstack.process import Child, StartError, port_open, wait_until

KAFKA_VERSION = "3.9.1"
REPO_ROOT = Path(__file__).resolve().parent.parent
POM = REPO_ROOT / "tools" / "kafka" / "pom.xml"
# The one place the broker's jars are kept, whatever DATA_DIR is: bootstrap, `up` and the tests share it.
JAR_CACHE = REPO_ROOT / ".local" / "cache"
MAX_MESSAGE_BYTES = 28 * 2**20  # GitHub's 25 MB cap plus the envelope and record overhead


def kafka_libs(cache_dir: Path = JAR_CACHE) -> Path:
    """The broker's classpath folder, resolved once with Maven (`mvn dependency:copy-dependencies`)."""
    libs = (cache_dir / f"kafka-{KAFKA_VERSION}" / "libs").resolve()
    if (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
        return libs
    if shutil.which("mvn") is None:
        raise StartError("Maven (mvn) is needed to fetch the Kafka broker; install it (apt-get install maven)")
    print(f"fetching the Kafka {KAFKA_VERSION} broker's jars from Maven Central into {libs} (once) ...", flush=True)
    tmp = libs.with_name("libs.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    done = subprocess.run(
        ["mvn", "-q", "-B", "-Dstyle.color=never", "-f", str(POM), "dependency:copy-dependencies",
         "-DincludeScope=runtime",
         f"-Dkafka.version={KAFKA_VERSION}", f"-DoutputDirectory={tmp}"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        lines = [line for line in (done.stdout + done.stderr).splitlines() if "ERROR" in line] or ["(no output)"]
        raise StartError(f"fetching the Kafka jars with Maven failed: {lines[0].strip()}")
    tmp.rename(libs)
    return libs


@dataclass(frozen=True)
class SaslSslListener:
    """An extra SASL_SSL listener (for the security tests): TLS with PEM files, clients must present a
    certificate signed by ``client_ca``, and each user may log in with PLAIN, SCRAM-SHA-256 or -512.
    OAUTHBEARER is offered too, with Kafka's unsecured-token validator (no Google token passes it)."""

    port: int
    keystore: Path  # PEM: the broker's private key (PKCS#8, unencrypted) and certificate chain
    client_ca: Path  # PEM: the CA client certificates must chain to
    users: dict[str, str] = field(default_factory=dict)  # name -> password

    def properties(self) -> list[str]:
        plain_users = " ".join(f'user_{name}="{password}"' for name, password in self.users.items())
        prefix = "listener.name.sasl_ssl."
        return [
            "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER",
            f"{prefix}ssl.keystore.type=PEM",
            f"{prefix}ssl.keystore.location={self.keystore}",
            f"{prefix}ssl.truststore.type=PEM",
            f"{prefix}ssl.truststore.location={self.client_ca}",
            f"{prefix}ssl.client.auth=required",
            f"{prefix}plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
            f"{plain_users};",
            f"{prefix}scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
            f"{prefix}scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
            # Kafka's own unsecured-token validator: enough to see a client reach the token step.
            f"{prefix}oauthbearer.sasl.jaas.config="
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
        ]

    def scram_arguments(self) -> list[str]:
        """``kafka-storage format`` arguments that create the SCRAM credentials (KRaft keeps them in metadata)."""
        return [f"--add-scram={mechanism}=[name={name},password={password}]"
                for name, password in self.users.items() for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512")]


@contextmanager
def quiet_kafka_client() -> Iterator[None]:
    """While we probe a broker that is still starting, kafka-python's connection-refused ERROR lines are
    expected and say nothing: hide them for the probe only."""
    logger = logging.getLogger("kafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


class KafkaBroker:
    def __init__(self, data_dir: Path, cache_dir: Path = JAR_CACHE, port: int = 9092, controller_port: int = 9093,
                 heap: str = "512m", sasl_ssl: SaslSslListener | None = None) -> None:
        self.sasl_ssl = sasl_ssl
        self.data_dir = data_dir.resolve()
        self.cache_dir = cache_dir
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.child: Child | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_ssl_bootstrap(self) -> str:
        assert self.sasl_ssl is not None, "this broker has no SASL_SSL listener"
        return f"127.0.0.1:{self.sasl_ssl.port}"

    def _write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "server.properties"
        listeners = f"PLAINTEXT://127.0.0.1:{self.port}"
        if self.sasl_ssl is not None:
            listeners += f",SASL_SSL://127.0.0.1:{self.sasl_ssl.port}"
        config.write_text("\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
            f"listeners={listeners},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners={listeners}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL",
            *(self.sasl_ssl.properties() if self.sasl_ssl is not None else []),
            f"log.dirs={self.data_dir / 'logs'}",
            "num.partitions=1",
            # One node: internal topics cannot have more replicas. Production values are in docs/operations.md.
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=8",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=true",
            f"message.max.bytes={MAX_MESSAGE_BYTES}",
            # The log cleaner's 128 MiB default buffer does not fit the small heaps of local brokers.
            "log.cleaner.dedupe.buffer.size=16777216",
            f"replica.fetch.max.bytes={MAX_MESSAGE_BYTES}",
            "",
        ]))
        log4j = self.data_dir / "log4j.properties"
        log4j.write_text("\n".join([
            "log4j.rootLogger=INFO, stdout",
            "log4j.appender.stdout=org.apache.log4j.ConsoleAppender",
            "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout",
            "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n",
            "log4j.logger.kafka=WARN",
            "log4j.logger.org.apache.kafka=WARN",
            "log4j.logger.kafka.server.KafkaServer=INFO",
            "",
        ]))
        return config

    def _java(self, main: str, *args: str) -> list[str]:
        libs = kafka_libs(self.cache_dir)
        return ["java", f"-Xmx{self.heap}", "-Xms128m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                f"-Dlog4j.configuration=file:{self.data_dir / 'log4j.properties'}",
                "-cp", f"{libs}/*", main, *args]

    def start(self, timeout: float = 90.0) -> None:
        config = self._write_config()
        if not (self.data_dir / "logs" / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            formatting = self._java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                                    "-c", str(config),
                                    *(self.sasl_ssl.scram_arguments() if self.sasl_ssl is not None else []))
            done = subprocess.run(formatting, capture_output=True, stdin=subprocess.DEVNULL)
            if done.returncode != 0:
                lines = done.stderr.decode(errors="replace").strip().splitlines() or ["(no output)"]
                raise StartError(f"formatting Kafka's storage in {self.data_dir} failed: {lines[-1]}")
        self.launch()
        wait_until(self.ready, timeout=timeout, what=f"Kafka on {self.bootstrap}", child=self.child)

    def launch(self) -> Child:
        """Starts the broker process without waiting for it (the supervisor's restart)."""
        self.child = Child("kafka", self._java("kafka.Kafka", str(self.data_dir / "server.properties")),
                           self.data_dir / "kafka.log")
        return self.child

    def answers(self) -> bool:
        """The broker answers metadata requests."""
        return self._probe(lambda admin: admin.describe_cluster())

    def ready(self) -> bool:
        """The broker answers and can coordinate consumer groups (``__consumer_offsets`` exists and has a
        leader), so workers started now do not log GroupCoordinatorNotAvailable while it is created."""
        return self._probe(lambda admin: admin.list_consumer_group_offsets("pillarstream-readiness-probe"))

    def _probe(self, request: Callable[[KafkaAdminClient], object]) -> bool:
        if not port_open(self.port):
            return False
        with quiet_kafka_client():
            try:
                admin = KafkaAdminClient(bootstrap_servers=[self.bootstrap], request_timeout_ms=3000)
            except (KafkaError, OSError, ValueError):
                return False
            try:
                request(admin)
                return True
            except (KafkaError, OSError, ValueError):
                return False
            finally:
                admin.close()

    def stop(self) -> None:
        if self.child:
            self.child.stop(timeout=30)

    def kill(self) -> None:
        if self.child:
            self.child.kill()
