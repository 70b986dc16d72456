// Multi-queue configuration: ports[].rx_queues and lcores[] as the loader
// reads and refuses them, and plan_rx (src/control/rx_plan.cpp), which turns
// them and the EAL's lcores into the workers' rx lists.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "control/config.hpp"
#include "control/rx_plan.hpp"

namespace ioamfwd::cp {
namespace {

const std::string kTwoPorts =
    "ports:\n"
    "  - {name: eth0, device: net_pcap0, rx_queues: 2}\n"
    "  - {name: eth1, device: net_pcap1, rx_queues: 2}\n";

std::string refusal(const std::string& text) {
    try {
        load_config_text(text, "mq.yaml");
    } catch (const ConfigError& e) {
        return e.what();
    }
    ADD_FAILURE() << "accepted:\n" << text;
    return "";
}

std::vector<RxAssignment> rx(std::initializer_list<RxAssignment> l) { return l; }

TEST(RxQueuesConfig, DefaultIsOneQueueAndNoLcores) {
    const Config c = load_config_text("ports:\n  - {name: eth0, device: net_pcap0}\n", "a");
    EXPECT_EQ(c.ports[0].rx_queues, 1);
    EXPECT_TRUE(c.lcores.empty());
}

TEST(RxQueuesConfig, ReadsQueuesAndLcores) {
    const Config c = load_config_text(kTwoPorts +
                                          "lcores:\n"
                                          "  - lcore: 1\n"
                                          "    rx: [{port: eth0, queue: 0}, {port: eth1, queue: 1}]\n"
                                          "  - {lcore: 2, rx: [{port: eth0, queue: 1}, "
                                          "{port: eth1, queue: 0}]}\n",
                                      "a");
    EXPECT_EQ(c.ports[0].rx_queues, 2);
    ASSERT_EQ(c.lcores.size(), 2u);
    EXPECT_EQ(c.lcores[0].lcore, 1u);
    ASSERT_EQ(c.lcores[0].rx.size(), 2u);
    EXPECT_EQ(c.lcores[0].rx[1].port, "eth1");
    EXPECT_EQ(c.lcores[0].rx[1].queue, 1);
    EXPECT_EQ(c.lcores[1].lcore, 2u);
}

TEST(RxQueuesConfig, RxQueuesRange) {
    EXPECT_EQ(refusal("ports:\n  - {name: eth0, device: net_pcap0, rx_queues: 0}\n"),
              "mq.yaml:2:48: ports[0].rx_queues: 0 is out of range 1..64");
    EXPECT_EQ(refusal("ports:\n  - {name: eth0, device: net_pcap0, rx_queues: 65}\n"),
              "mq.yaml:2:48: ports[0].rx_queues: 65 is out of range 1..64");
    EXPECT_EQ(load_config_text("ports:\n  - {name: eth0, device: net_pcap0, rx_queues: 64}\n", "a")
                  .ports[0]
                  .rx_queues,
              64);
}

TEST(RxQueuesConfig, UnknownPortIsRefused) {
    EXPECT_EQ(refusal(kTwoPorts + "lcores:\n  - {lcore: 1, rx: [{port: eth9, queue: 0}]}\n"),
              "mq.yaml:5:28: lcores[0].rx[0].port: no port named 'eth9' (ports: eth0, eth1)");
}

TEST(RxQueuesConfig, QueueBeyondRxQueuesIsRefused) {
    EXPECT_EQ(refusal(kTwoPorts + "lcores:\n  - {lcore: 1, rx: [{port: eth0, queue: 2}]}\n"),
              "mq.yaml:5:41: lcores[0].rx[0].queue: port 'eth0' has rx_queues: 2, so its queues "
              "are 0..1; got 2");
}

TEST(RxQueuesConfig, QueueListedTwiceIsRefused) {
    EXPECT_EQ(refusal(kTwoPorts +
                      "lcores:\n"
                      "  - {lcore: 1, rx: [{port: eth0, queue: 0}, {port: eth1, queue: 0}]}\n"
                      "  - {lcore: 2, rx: [{port: eth0, queue: 1}, {port: eth0, queue: 0}]}\n"),
              "mq.yaml:6:65: lcores[1].rx[1].queue: rx queue 0 of port 'eth0' is already polled "
              "(line 5, column 21); a queue has exactly one lcore");
}

TEST(RxQueuesConfig, DuplicateLcoreIsRefused) {
    EXPECT_EQ(refusal(kTwoPorts +
                      "lcores:\n"
                      "  - {lcore: 1, rx: [{port: eth0, queue: 0}, {port: eth1, queue: 0}]}\n"
                      "  - {lcore: 1, rx: [{port: eth0, queue: 1}, {port: eth1, queue: 1}]}\n"),
              "mq.yaml:6:13: lcores[1].lcore: lcore 1 is already given by lcores[0] at line 5, "
              "column 5; list all its queues in one entry");
}

TEST(RxQueuesConfig, UnpolledQueueIsRefused) {
    EXPECT_EQ(refusal(kTwoPorts +
                      "lcores:\n"
                      "  - {lcore: 1, rx: [{port: eth0, queue: 0}, {port: eth1, queue: 0}]}\n"
                      "  - {lcore: 2, rx: [{port: eth0, queue: 1}]}\n"),
              "mq.yaml:5:3: lcores: rx queue 1 of port 'eth1' is polled by no lcore (port eth1 "
              "has rx_queues: 2; list every queue once)");
}

TEST(RxQueuesConfig, EmptyListsAreRefused) {
    EXPECT_NE(refusal(kTwoPorts + "lcores: []\n").find("give at least one lcore"),
              std::string::npos);
    EXPECT_NE(refusal(kTwoPorts + "lcores:\n  - {lcore: 1, rx: []}\n").find("polls no rx queue"),
              std::string::npos);
    EXPECT_NE(refusal(kTwoPorts + "lcores:\n  - {lcore: 1024, rx: [{port: eth0, queue: 0}]}\n")
                  .find("out of range 0..1023"),
              std::string::npos);
}

Config two_by_two() { return load_config_text(kTwoPorts, "mq.yaml"); }

TEST(RxPlan, DefaultSpreadsPortByPortRoundRobin) {
    std::string err;
    auto plan = plan_rx(two_by_two(), {1, 2}, 0, 256, err);
    ASSERT_TRUE(plan) << err;
    ASSERT_EQ(plan->workers.size(), 2u);
    EXPECT_EQ(plan->workers[0].lcore, 1u);
    EXPECT_EQ(plan->workers[0].rx, rx({{0, 0}, {1, 0}}));
    EXPECT_EQ(plan->workers[1].lcore, 2u);
    EXPECT_EQ(plan->workers[1].rx, rx({{0, 1}, {1, 1}}));
    EXPECT_TRUE(plan->idle_lcores.empty());
}

TEST(RxPlan, DefaultWithOneQueuePerPortIsTodaysSpread) {
    const Config c = load_config_text(
        "ports:\n  - {name: a, device: d0}\n  - {name: b, device: d1}\n  - {name: c, device: d2}\n",
        "x");
    std::string err;
    auto plan = plan_rx(c, {1, 2}, 0, 256, err);
    ASSERT_TRUE(plan) << err;
    EXPECT_EQ(plan->workers[0].rx, rx({{0, 0}, {2, 0}}));
    EXPECT_EQ(plan->workers[1].rx, rx({{1, 0}}));
}

TEST(RxPlan, SurplusEalLcoresAreIdle) {
    const Config c = load_config_text("ports:\n  - {name: a, device: d0}\n", "x");
    std::string err;
    auto plan = plan_rx(c, {1, 2, 3}, 0, 256, err);
    ASSERT_TRUE(plan) << err;
    ASSERT_EQ(plan->workers.size(), 1u);
    EXPECT_EQ(plan->workers[0].lcore, 1u);
    EXPECT_EQ(plan->idle_lcores, (std::vector<unsigned>{2, 3}));
}

TEST(RxPlan, LcoresFollowTheConfiguration) {
    const Config c = load_config_text(kTwoPorts +
                                          "lcores:\n"
                                          "  - {lcore: 3, rx: [{port: eth1, queue: 1}, "
                                          "{port: eth0, queue: 0}, {port: eth1, queue: 0}]}\n"
                                          "  - {lcore: 1, rx: [{port: eth0, queue: 1}]}\n",
                                      "mq.yaml");
    std::string err;
    auto plan = plan_rx(c, {1, 2, 3}, 0, 256, err);
    ASSERT_TRUE(plan) << err;
    ASSERT_EQ(plan->workers.size(), 2u);
    EXPECT_EQ(plan->workers[0].lcore, 3u);
    EXPECT_EQ(plan->workers[0].rx, rx({{1, 1}, {0, 0}, {1, 0}}));
    EXPECT_EQ(plan->workers[1].lcore, 1u);
    EXPECT_EQ(plan->workers[1].rx, rx({{0, 1}}));
    EXPECT_EQ(plan->idle_lcores, (std::vector<unsigned>{2}));
    EXPECT_EQ(describe_rx(c, plan->workers[0].rx), "eth1/1 eth0/0 eth1/0");
}

TEST(RxPlan, LcoreNotInTheEalIsRefusedWithItsPosition) {
    const Config c = load_config_text(kTwoPorts +
                                          "lcores:\n"
                                          "  - {lcore: 1, rx: [{port: eth0, queue: 0}, "
                                          "{port: eth1, queue: 0}]}\n"
                                          "  - {lcore: 7, rx: [{port: eth0, queue: 1}, "
                                          "{port: eth1, queue: 1}]}\n",
                                      "mq.yaml");
    std::string err;
    EXPECT_FALSE(plan_rx(c, {1, 2}, 0, 256, err));
    EXPECT_EQ(err, "mq.yaml:6:5: lcore 7 is not an EAL lcore; add it to the EAL's -l or --lcores "
                   "(EAL worker lcores: 1, 2)");
}

TEST(RxPlan, MainLcoreIsRefused) {
    const Config c = load_config_text(kTwoPorts +
                                          "lcores:\n"
                                          "  - {lcore: 0, rx: [{port: eth0, queue: 0}, "
                                          "{port: eth1, queue: 0}, {port: eth0, queue: 1}, "
                                          "{port: eth1, queue: 1}]}\n",
                                      "mq.yaml");
    std::string err;
    EXPECT_FALSE(plan_rx(c, {1}, 0, 256, err));
    EXPECT_NE(err.find("lcore 0 is the EAL main lcore"), std::string::npos) << err;
}

TEST(RxPlan, NoWorkerAndTooManyQueuesAreRefused) {
    std::string err;
    EXPECT_FALSE(plan_rx(two_by_two(), {}, 0, 256, err));
    EXPECT_NE(err.find("no worker lcore"), std::string::npos) << err;
    err.clear();
    EXPECT_FALSE(plan_rx(two_by_two(), {1}, 0, 3, err));
    EXPECT_NE(err.find("lcore 1 would poll 4 rx queues"), std::string::npos) << err;
}

TEST(RxConfigOption, ParsesAndGroupsByLcore) {
    std::string err;
    auto l = parse_rx_config("(eth0,0,2),(eth1,1,1),(eth1,0,2),(eth0,1,1)", two_by_two(), err);
    ASSERT_TRUE(l) << err;
    ASSERT_EQ(l->size(), 2u);
    EXPECT_EQ((*l)[0].lcore, 2u);
    ASSERT_EQ((*l)[0].rx.size(), 2u);
    EXPECT_EQ((*l)[0].rx[0].port, "eth0");
    EXPECT_EQ((*l)[0].rx[1].port, "eth1");
    EXPECT_EQ((*l)[0].rx[1].queue, 0);
    EXPECT_EQ((*l)[1].lcore, 1u);
    Config c = two_by_two();
    c.lcores = *l;
    auto plan = plan_rx(c, {1, 2}, 0, 256, err);
    ASSERT_TRUE(plan) << err;
    EXPECT_EQ(plan->workers[0].rx, rx({{0, 0}, {1, 0}}));
    EXPECT_EQ(plan->workers[1].rx, rx({{1, 1}, {0, 1}}));
    EXPECT_FALSE(plan_rx(c, {1}, 0, 256, err));
    EXPECT_EQ(err, "--rx-config: lcore 2 is not an EAL lcore; add it to the EAL's -l or "
                   "--lcores (EAL worker lcores: 1)");
}

TEST(RxConfigOption, RefusesWhatTheLoaderRefuses) {
    const Config c = two_by_two();
    auto refused = [&](const std::string& text) {
        std::string err;
        EXPECT_FALSE(parse_rx_config(text, c, err)) << text;
        return err;
    };
    const std::string all = "(eth0,0,1),(eth0,1,1),(eth1,0,1),(eth1,1,1)";
    EXPECT_EQ(refused("(eth9,0,1)"), "--rx-config: (eth9,0,1): no port named 'eth9'");
    EXPECT_EQ(refused("(eth0,2,1)"), "--rx-config: (eth0,2,1): port eth0 has rx queues 0..1");
    EXPECT_EQ(refused(all + ",(eth0,0,2)"),
              "--rx-config: (eth0,0,2): rx queue 0 of port eth0 is already polled by lcore 1");
    EXPECT_EQ(refused("(eth0,0,1),(eth0,1,1),(eth1,0,1)"),
              "--rx-config: rx queue 1 of port eth1 is polled by no lcore");
    EXPECT_EQ(refused("(eth0,0,x)"), "--rx-config: (eth0,0,x): the lcore must be a number from 0 "
                                     "to 1023");
    EXPECT_EQ(refused("(eth0,0)"), "--rx-config: (eth0,0): expected three fields "
                                   "(PORT,QUEUE,LCORE)");
    EXPECT_EQ(refused("(eth0,0,1)(eth0,1,1)"),
              "--rx-config: expected ',' between entries at character 11");
    EXPECT_EQ(refused("eth0,0,1"), "--rx-config: expected (PORT,QUEUE,LCORE) at character 1");
    EXPECT_EQ(refused(all + ","), "--rx-config: expected (PORT,QUEUE,LCORE) at character 45");
}

}  // namespace
}  // namespace ioamfwd::cp
