package dev.nvmelm.cli;

import dev.nvmelm.nbd.NbdClient;
import dev.nvmelm.nbd.NbdUri;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * NBD clients writing random 4 KiB blocks continuously, each block's content derived from its
 * index and a version number, so any copy of the namespace can be checked against the last
 * version each block was acknowledged with. Each writer owns the blocks {@code b % writers ==
 * its index} and has one request in flight, so "the last acknowledged version" is exact. A
 * writer stops at its first error (recorded): a write that failed was never acknowledged.
 */
final class VerifiableWriters implements AutoCloseable {
    static final int BLOCK = 4096;
    private final int blocks;
    private final AtomicLongArray acked;
    private final AtomicLong acks = new AtomicLong();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final ConcurrentLinkedQueue<IOException> errors = new ConcurrentLinkedQueue<>();
    private final List<NbdClient> clients = new ArrayList<>();
    private final List<CompletableFuture<Void>> running = new ArrayList<>();

    private VerifiableWriters(int blocks) {
        this.blocks = blocks;
        this.acked = new AtomicLongArray(blocks);
    }

    /** Version {@code version} of block {@code block}: its index, the version, then bytes only they determine. */
    static byte[] content(int block, long version) {
        byte[] b = new byte[BLOCK];
        new SplittableRandom(block * 1_000_003L + version * 7919L).nextBytes(b);
        ByteBuffer.wrap(b).putLong(block).putLong(version);
        return b;
    }

    static VerifiableWriters start(String uri, int blocks, int writers) throws Exception {
        return start(uri, new VerifiableWriters(blocks), writers);
    }

    /**
     * New writers on {@code uri} that continue from the versions {@code before} saw acknowledged
     * (the guest moved to another export); {@link #checkAgainst} then checks both.
     */
    static VerifiableWriters continuing(String uri, VerifiableWriters before, int writers) throws Exception {
        VerifiableWriters w = new VerifiableWriters(before.blocks);
        for (int b = 0; b < before.blocks; b++) w.acked.set(b, before.acked.get(b));
        w.acks.set(before.acks());
        return start(uri, w, writers);
    }

    private static VerifiableWriters start(String uri, VerifiableWriters w, int writers) throws Exception {
        try {
            for (int i = 0; i < writers; i++) w.clients.add(NbdClient.connect(NbdUri.parse(uri)));
        } catch (IOException e) {
            w.close();
            throw e;
        }
        for (int i = 0; i < writers; i++) {
            int me = i;
            NbdClient c = w.clients.get(i);
            w.running.add(CompletableFuture.runAsync(() -> w.loop(c, me, writers), r -> Thread.ofPlatform().name("writer-" + me).start(r)));
        }
        return w;
    }

    private void loop(NbdClient c, int me, int writers) {
        Random r = new Random(31 + me);
        int mine = (blocks - me + writers - 1) / writers;
        while (!stop.get()) {
            int b = me + writers * r.nextInt(mine);
            long v = acked.get(b) + 1;
            try {
                NbdClient.await(c.write((long) b * BLOCK, content(b, v), false));
            } catch (IOException e) {
                errors.add(e);
                return;
            }
            acked.set(b, v);
            acks.incrementAndGet();
            synchronized (acks) {
                acks.notifyAll();   // awaitAcks waits on this, not on a timer
            }
            try {
                Thread.sleep(1);   // pacing (about 500 writes/s per writer), not synchronisation
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    long acks() {
        return acks.get();
    }

    List<IOException> errors() {
        return List.copyOf(errors);
    }

    /** Waits until {@code n} writes were acknowledged in all; fails if every writer stopped first. */
    void awaitAcks(long n) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        synchronized (acks) {
            while (acks.get() < n) {
                assertThat(running.stream().allMatch(CompletableFuture::isDone)).as("the writers stopped at %d acks: %s", acks.get(), errors).isFalse();
                long left = deadline - System.nanoTime();
                assertThat(left).as("%d acknowledged writes within 60 s", n).isPositive();
                acks.wait(Math.max(1, Math.min(left / 1_000_000, 100)));   // woken by each acknowledgement; 100 ms bounds noticing that every writer stopped
            }
        }
    }

    /** Waits for every writer to stop on its own (an error). */
    void awaitEnd(Duration timeout) throws Exception {
        CompletableFuture.allOf(running.toArray(CompletableFuture[]::new)).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    void stopAndAwait() throws Exception {
        stop.set(true);
        awaitEnd(Duration.ofSeconds(30));
    }

    /** Every block of {@code image} holds the last version acknowledged for it (version 0 = the initial content). */
    void checkAgainst(byte[] image) {
        assertThat(image.length).isEqualTo((long) blocks * BLOCK);
        List<String> bad = new ArrayList<>();
        for (int b = 0; b < blocks; b++) {
            byte[] want = content(b, acked.get(b));
            if (!java.util.Arrays.equals(image, b * BLOCK, (b + 1) * BLOCK, want, 0, BLOCK)) {
                ByteBuffer got = ByteBuffer.wrap(image, b * BLOCK, 16);
                bad.add("block " + b + ": acknowledged version " + acked.get(b) + ", found block " + got.getLong() + " version " + got.getLong());
            }
        }
        assertThat(bad).as("blocks not at their last acknowledged version (%d acks)", acks.get()).isEmpty();
    }

    @Override
    public void close() throws Exception {
        stop.set(true);
        try {
            CompletableFuture.allOf(running.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        } catch (Exception ignored) {
            // closing anyway
        }
        for (NbdClient c : clients) c.close();
    }
}
