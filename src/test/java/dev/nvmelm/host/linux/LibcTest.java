package dev.nvmelm.host.linux;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The FFM libc calls against the real kernel: eventfd, poll, read/write, statx, ioctl, errno capture. */
class LibcTest {

    @Test
    void eventfdSignalledIsReadyInPollAndReadReturnsTheCounterThenResets() throws Exception {
        try (EventFd e = EventFd.create()) {
            assertThat(Libc.poll(e.fd(), Libc.POLLIN, 0)).as("not signalled: poll times out").isZero();
            e.signal(3);
            e.signal(4);
            assertThat(Libc.poll(e.fd(), Libc.POLLIN, 0) & Libc.POLLIN).as("signalled: POLLIN").isEqualTo(Libc.POLLIN);
            assertThat(e.take()).as("one read returns the sum and resets the counter").isEqualTo(7);
            assertThat(e.take()).as("non-blocking read of a zero counter: EAGAIN, reported as 0").isZero();
            assertThat(Libc.poll(e.fd(), Libc.POLLIN, 0)).isZero();
        }
    }

    @Test
    void awaitReturnsTheCounterWhenSignalledAndZeroWhenThePollTimesOut() throws Exception {
        try (EventFd e = EventFd.create()) {
            assertThat(e.await(Duration.ofMillis(30))).as("nobody signals: timeout").isZero();
            e.signal(1);
            assertThat(e.await(Duration.ofSeconds(10))).isEqualTo(1);
            assertThat(e.await(Duration.ZERO)).as("the counter was taken").isZero();
        }
    }

    @Test
    void awaitIsWokenBySignalFromAnotherThread() throws Exception {
        try (EventFd e = EventFd.create()) {
            CountDownLatch waiting = new CountDownLatch(1);
            CompletableFuture<Long> got = CompletableFuture.supplyAsync(() -> {
                waiting.countDown();
                try {
                    return e.await(Duration.ofSeconds(30));
                } catch (Exception ex) {
                    throw new RuntimeException(ex);
                }
            }, r -> Thread.ofPlatform().start(r));
            waiting.await();
            e.signal(5);
            assertThat(got.get(30, TimeUnit.SECONDS)).isEqualTo(5);
        }
    }

    @Test
    void awaitNoticesAJavaInterruptBetweenPollSlices() throws Exception {
        try (EventFd e = EventFd.create()) {
            CompletableFuture<Throwable> outcome = new CompletableFuture<>();
            Thread t = Thread.ofPlatform().start(() -> {
                try {
                    e.await(Duration.ofMinutes(5));
                    outcome.complete(null);
                } catch (Throwable ex) {
                    outcome.complete(ex);
                }
            });
            t.interrupt();
            assertThat(outcome.get(30, TimeUnit.SECONDS)).isInstanceOf(InterruptedException.class);
        }
    }

    @Test
    void eventfdRefusesTheValuesTheKernelRefuses() throws Exception {
        try (EventFd e = EventFd.create()) {
            assertThatThrownBy(() -> e.signal(0)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> e.signal(-1L)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void errnoIsCapturedFromTheFailingCall() throws Exception {
        try (EventFd e = EventFd.create(); Arena a = Arena.ofConfined()) {
            MemorySegment small = a.allocate(4);
            // eventfd reads need 8 bytes: EINVAL (eventfd(2))
            assertThatThrownBy(() -> Libc.read(e.fd(), small, 4))
                    .isInstanceOfSatisfying(LibcException.class, ex -> {
                        assertThat(ex.errno()).isEqualTo(Libc.EINVAL);
                        assertThat(ex.errnoName()).isEqualTo("EINVAL");
                        assertThat(ex.getMessage()).contains("Invalid argument");
                    });
            MemorySegment v = a.allocate(JAVA_LONG);
            v.set(JAVA_LONG, 0, -1L);
            assertThatThrownBy(() -> Libc.write(e.fd(), v, 8)).as("0xFFFFFFFFFFFFFFFF is EINVAL")
                    .isInstanceOfSatisfying(LibcException.class, ex -> assertThat(ex.errno()).isEqualTo(Libc.EINVAL));
        }
        assertThatThrownBy(() -> Libc.close(1_000_000)).isInstanceOfSatisfying(LibcException.class,
                ex -> assertThat(ex.errno()).isEqualTo(Libc.EBADF));
    }

    @Test
    void statxReadsTypeAndDeviceNumbers(@TempDir Path dir) throws Exception {
        Libc.Stat nul = Libc.stat("/dev/null");
        assertThat(nul.isCharDevice()).isTrue();
        assertThat(nul.rdevMajor()).as("/dev/null is 1:3 on every Linux").isEqualTo(1);
        assertThat(nul.rdevMinor()).isEqualTo(3);
        assertThat(nul.mode() & 0777).isEqualTo(0666);
        Path f = Files.writeString(dir.resolve("plain"), "x");
        assertThat(Libc.stat(f.toString()).typeName()).isEqualTo("a regular file");
        assertThat(Libc.stat(dir.toString()).typeName()).isEqualTo("a directory");
        int fd = Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC);
        try {
            assertThat(Libc.fstat(fd)).isEqualTo(nul);
        } finally {
            Libc.close(fd);
        }
        assertThatThrownBy(() -> Libc.stat(dir.resolve("missing").toString()))
                .isInstanceOfSatisfying(LibcException.class, ex -> assertThat(ex.errno()).isEqualTo(Libc.ENOENT));
    }

    @Test
    void aPassthroughIoctlOnNonNvmeDescriptorsIsEnotty(@TempDir Path dir) throws Exception {
        Path f = Files.writeString(dir.resolve("plain"), "x");
        for (String path : new String[] {"/dev/null", "/dev/zero", f.toString()}) {
            int fd = Libc.open(path, Libc.O_RDWR | Libc.O_CLOEXEC);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment cmd = a.allocate(NvmeIoctl.PASSTHRU_CMD64);
                assertThatThrownBy(() -> Libc.ioctl(fd, NvmeIoctl.NVME_IOCTL_ADMIN64_CMD, cmd, "NVME_IOCTL_ADMIN64_CMD"))
                        .as(path).isInstanceOfSatisfying(LibcException.class, ex -> {
                            assertThat(ex.errno()).isEqualTo(Libc.ENOTTY);
                            assertThat(ex.call()).isEqualTo("ioctl(NVME_IOCTL_ADMIN64_CMD)");
                        });
                assertThat(NodeOpener.answersPassthrough(fd, NvmeIoctl.NVME_IOCTL_ADMIN64_CMD, true)).isFalse();
                assertThat(CdqIoctl.probe(fd)).as("CDQ probe on %s", path).isEqualTo(CdqSupport.NONE);
            } finally {
                Libc.close(fd);
            }
        }
    }

    @Test
    void pipeCarriesBytesAndANonBlockingEmptyReadIsEagain() throws Exception {
        int[] p = Libc.pipe(Libc.O_NONBLOCK | Libc.O_CLOEXEC);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(64);
            assertThatThrownBy(() -> Libc.read(p[0], buf, 64))
                    .isInstanceOfSatisfying(LibcException.class, ex -> assertThat(ex.errno()).isEqualTo(Libc.EAGAIN));
            buf.set(JAVA_LONG, 0, 0x1122334455667788L);
            assertThat(Libc.write(p[1], buf, 8)).isEqualTo(8);
            MemorySegment in = a.allocate(64);
            assertThat(Libc.read(p[0], in, 64)).isEqualTo(8);
            assertThat(in.get(JAVA_LONG, 0)).isEqualTo(0x1122334455667788L);
        } finally {
            Libc.close(p[0]);
            Libc.close(p[1]);
        }
    }

    @Test
    void strerrorAndErrnoNames() {
        assertThat(Libc.strerror(Libc.ENOENT)).isEqualTo("No such file or directory");
        assertThat(Libc.strerror(Libc.ENOTTY)).isEqualTo("Inappropriate ioctl for device");
        assertThat(Libc.errnoName(Libc.EACCES)).isEqualTo("EACCES");
        assertThat(Libc.errnoName(4095)).isEqualTo("errno 4095");
    }

    @Test
    void readAndWriteRefuseHeapMemoryAndOverlongCounts() throws IOException {
        assertThatThrownBy(() -> Libc.read(0, MemorySegment.ofArray(new byte[8]), 8)).isInstanceOf(IllegalArgumentException.class);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(8);
            assertThatThrownBy(() -> Libc.write(1, s, 9)).isInstanceOf(IndexOutOfBoundsException.class);
        }
    }
}
