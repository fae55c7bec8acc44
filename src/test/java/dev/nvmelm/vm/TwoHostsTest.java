package dev.nvmelm.vm;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Two namespaces joined by a veth pair: A reaches B over TCP, a cut link stops it, close removes everything. */
class TwoHostsTest {
    static String out(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        return s;
    }

    /** Sends one line from A to a listener on B; true when B received it. */
    static boolean sendAToB(TwoHosts h, int port, String line) throws Exception {
        Process listener = h.b().process(List.of("busybox", "nc", "-l", "-p", Integer.toString(port))).redirectErrorStream(true).start();
        try {
            // the listener is ready when a connection succeeds: retry a bounded number of times
            for (int i = 0; i < 100; i++) {
                Process c = h.a().process(List.of("busybox", "nc", "-w", "2", h.b().address(), Integer.toString(port)))
                        .redirectErrorStream(true).start();
                c.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
                c.getOutputStream().close();
                if (!c.waitFor(5, TimeUnit.SECONDS)) c.destroyForcibly();
                if (c.exitValue() == 0) break;
                if (!listener.isAlive()) break;
                Thread.onSpinWait();
            }
            if (!listener.waitFor(5, TimeUnit.SECONDS)) return false;
            return new String(listener.getInputStream().readAllBytes(), StandardCharsets.UTF_8).contains(line);
        } finally {
            listener.destroyForcibly().waitFor();
        }
    }

    @Test
    void hostsTalkOverTheirOwnLinkAndLeaveNothingBehind() throws Exception {
        TwoHosts hosts;
        try {
            hosts = TwoHosts.create("nvlmt");
        } catch (TwoHosts.UnavailableException e) {
            Assumptions.abort(e.getMessage());
            return;
        }
        String a, b;
        try (TwoHosts h = hosts) {
            a = h.a().netns();
            b = h.b().netns();
            assertThat(out(h.a().command(List.of("ip", "-o", "addr")))).contains(h.a().address());
            assertThat(out(List.of("ip", "-o", "addr"))).as("nothing in the machine's own namespace").doesNotContain(h.a().address()).doesNotContain(h.b().address());
            assertThat(sendAToB(h, 7001, "hello-over-veth")).isTrue();

            h.linkDown();
            Process c = h.a().process(List.of("busybox", "nc", "-w", "1", h.b().address(), "7002")).redirectErrorStream(true).start();
            c.getOutputStream().close();
            assertThat(c.waitFor(10, TimeUnit.SECONDS)).isTrue();
            assertThat(c.exitValue()).as("no route while the link is down").isNotZero();
            h.linkUp();
            assertThat(sendAToB(h, 7003, "hello-again")).isTrue();
        }
        String list = out(List.of("ip", "netns", "list"));
        assertThat(list).doesNotContain(a).doesNotContain(b);
    }

    @Test
    void aRefusedNamespaceIsATypedError() {
        // a name the kernel refuses (a slash) fails creation before anything exists
        try {
            TwoHosts.create("bad/").close();
        } catch (TwoHosts.UnavailableException e) {
            assertThat(e.getMessage()).contains("cannot create network namespace");
            return;
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("a namespace name with a slash was accepted");
    }
}
