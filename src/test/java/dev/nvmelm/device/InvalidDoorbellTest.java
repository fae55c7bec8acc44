package dev.nvmelm.device;

import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.AsyncEvent;
import dev.nvmelm.spec.Cqe;
import dev.nvmelm.spec.bus.Registers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A doorbell write to no queue, or with a value outside the queue, changes nothing and is
 * reported as QEMU reports it: an Error Status asynchronous event (AET 0, AEI 00h Write to Invalid
 * Doorbell Register / 01h Invalid Doorbell Write Value, log page 01h), not ignored silently.
 */
class InvalidDoorbellTest {
    @Test
    void invalidDoorbellWritesRaiseAnErrorStatusEvent(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Controller mc = fx.mc.c;
            int aer = fx.mc.submit(0, AdminCommands.asyncEventRequest());
            fx.sim.run();
            mc.write32(Registers.sqTailDoorbell(9, 0), 1);   // MC 1 has I/O queues 1 and 2
            fx.sim.run();
            Cqe e = fx.mc.completion(0, aer);
            assertThat(e).as("an event for a doorbell of no queue").isNotNull();
            assertThat(AsyncEvent.decode(e.dw0(), e.dw1())).isEqualTo(AsyncEvent.invalidDoorbellRegister());
            assertThat(e.dw0()).isEqualTo(0x0001_0000);
            assertThat(mc.lastInvalidDoorbell()).contains("SQ 9 tail doorbell: no such queue");

            int aer2 = fx.mc.submit(0, AdminCommands.asyncEventRequest());
            fx.sim.run();
            mc.write32(Registers.cqHeadDoorbell(1, 0), 64);   // CQ 1 holds 64 entries: head 64 is outside it
            fx.sim.run();
            Cqe v = fx.mc.completion(0, aer2);
            assertThat(AsyncEvent.decode(v.dw0(), v.dw1())).isEqualTo(AsyncEvent.invalidDoorbellWriteValue());
            assertThat(mc.lastInvalidDoorbell()).contains("CQ 1 head 64 outside 0..63");

            fx.write(1, 0, 1);   // the queues still work
            assertThat(fx.fatal(fx.mc)).isFalse();
            assertThat(mc.fatalReason()).isEmpty();
        }
    }

    /** CSTS.CFS keeps its reason, for whoever looks at a dead controller. */
    @Test
    void aFatalStatusKeepsItsReason(@TempDir Path dir) throws Exception {
        try (Sim sim = new Sim(dir, 1, 4096, 512)) {
            Controller c = sim.subsystem.controller(1);
            c.write32(Registers.AQA, 0);                     // admin queues of one entry
            c.write32(Registers.CC, Registers.CC_EN);
            sim.run();
            assertThat(c.read32(Registers.CSTS) & Registers.CSTS_CFS).isNotZero();
            assertThat(c.fatalReason()).hasValueSatisfying(why -> assertThat(why).contains("admin queue sizes must be at least 2"));
            c.write32(Registers.CC, 0);                       // a reset clears it
            sim.run();
            assertThat(c.fatalReason()).isEmpty();
        }
    }
}
