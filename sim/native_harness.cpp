// ifmac native simulation harness: drives a Verilated MAC one cycle per input
// record, with no Python per cycle. The model (class Vmac, --prefix Vmac) is
// the MAC behind a wrapper that registers every input, reset included
// (native.py writes it): the MAC then sees record t in cycle t+1, and its
// front end is evaluated once per rising edge instead of at both clock
// edges (Verilator re-evaluates logic fed by top-level inputs at every
// eval), about 15 % faster. Cycles are reported in the MAC's own numbering.
//
// Usage: harness CODE_BYTES [TRACE_FILE FIRST_CYCLE]
// (TRACE_FILE needs a traced build: a VCD waveform from a --trace build, a
// SAIF toggle file from a --trace-saif one; cycles of the first chunk from
// FIRST_CYCLE on are dumped.)
//
// stdin, little-endian binary, repeated per chunk:
//   uint64 n_cycles                (0 ends the run)
//   n_cycles records of 3 + 2*CODE_BYTES bytes:
//     flags     bit 0 valid, bit 1 last, bit 2 rst (synchronous, active high)
//     a_scale, w_scale
//     a[CODE_BYTES], w[CODE_BYTES]  the packed codes, element i at bits
//                                   [bits*i +: bits], least significant byte first
// stdout, 16-byte records: int64 cycle (within the chunk), uint32 result,
//   uint32 status; a record with cycle INT64_MIN closes each chunk.
//
// Cycle t of a chunk: the outputs registered at the rising edge that closed
// cycle t-1 are sampled, then the inputs of record t are applied and sampled
// by the rising edge that closes cycle t -- the convention of the cocotb
// testbench (tb_mac.py) and of the cycle model (one cycle later behind the
// wrapper's input registers, which the reported cycle takes back). Before
// the first chunk the MAC is held in reset for two cycles.

#include "Vmac.h"
#include "verilated.h"
#if VM_TRACE_SAIF
#include "verilated_saif_c.h"
using Trace = VerilatedSaifC;
#elif VM_TRACE
#include "verilated_vcd_c.h"
using Trace = VerilatedVcdC;
#endif

#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace {

// Copy n little-endian bytes into a Verilator port of any width (CData ..
// QData are integers, VlWide an array of 32-bit words, least significant
// first), clearing the bytes above.
template <class Port>
void set_port(Port& port, const uint8_t* src, size_t n) {
    std::memset(static_cast<void*>(&port), 0, sizeof(Port));
    std::memcpy(static_cast<void*>(&port), src, n);
}

struct Output {
    int64_t cycle;
    uint32_t result;
    uint32_t status;
};
static_assert(sizeof(Output) == 16, "output record layout");

bool read_exact(void* dst, size_t n) {
    return std::fread(dst, 1, n, stdin) == n;
}

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "ifmac harness: %s\n", what);
    std::exit(3);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) die("usage: harness CODE_BYTES [TRACE_FILE FIRST_CYCLE]");
    const size_t code_bytes = std::strtoul(argv[1], nullptr, 10);
    auto ctx = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vmac>(ctx.get());
    if (code_bytes == 0 || code_bytes > sizeof(top->a)) die("CODE_BYTES does not fit port a");
    const size_t rec = 3 + 2 * code_bytes;

#if VM_TRACE
    std::unique_ptr<Trace> vcd;
    if (argc > 2) {
        ctx->traceEverOn(true);
        vcd = std::make_unique<Trace>();
        top->trace(vcd.get(), 99);
        vcd->open(argv[2]);
    }
    const int64_t first_dumped = argc > 3 ? std::strtoll(argv[3], nullptr, 10) : 0;
    uint64_t time = 0;
    auto dump = [&](int64_t t) {
        if (vcd && t >= first_dumped) vcd->dump(time);
        time += 5;
    };
#else
    auto dump = [](int64_t) {};
#endif

    static char inbuf[1 << 20], outbuf[1 << 20];
    std::setvbuf(stdin, inbuf, _IOFBF, sizeof inbuf);
    std::setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);

    auto cycle = [&](int64_t t) {
        top->clk = 1; top->eval(); dump(t);
        top->clk = 0; top->eval(); dump(t);
    };
    top->clk = 0;
    top->valid = 0;
    top->rst = 1;
    top->eval();
    cycle(-2);
    cycle(-1);
    top->rst = 0;

    const size_t block = 1 << 16;
    std::vector<uint8_t> buf(block * rec);
    for (;;) {
        uint64_t n;
        if (!read_exact(&n, sizeof n)) die("input ended without the closing 0");
        if (n == 0) break;
        int64_t t = 0;
        while (static_cast<uint64_t>(t) < n) {
            const size_t k = static_cast<size_t>(std::min<uint64_t>(block, n - t));
            if (!read_exact(buf.data(), k * rec)) die("input ended inside a chunk");
            for (size_t i = 0; i < k; ++i, ++t) {
                if (top->result_valid) {
                    const Output o{t - 1, static_cast<uint32_t>(top->result),
                                   static_cast<uint32_t>(top->status)};
                    std::fwrite(&o, sizeof o, 1, stdout);
                }
                const uint8_t* r = buf.data() + i * rec;
                top->valid = r[0] & 1;
                top->last = (r[0] >> 1) & 1;
                top->rst = (r[0] >> 2) & 1;
                top->a_scale = r[1];
                top->w_scale = r[2];
                set_port(top->a, r + 3, code_bytes);
                set_port(top->w, r + 3 + code_bytes, code_bytes);
                cycle(t);
            }
        }
        const Output end{INT64_MIN, 0, 0};
        std::fwrite(&end, sizeof end, 1, stdout);
        std::fflush(stdout);
    }
    top->final();
#if VM_TRACE
    if (vcd) vcd->close();
#endif
    return 0;
}
