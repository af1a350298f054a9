// TrainStep, the step `gdpo train` runs and `gdpo bench step` times, and the synthetic batches the
// benchmark feeds it: properties a reader can check (what a step changes, that accumulation and the
// timed path compute the same step), not internals.
#include "gdpo/train/train_step.hpp"

#include <gtest/gtest.h>

#include <set>

#include "gdpo/core/error.hpp"
#include "gdpo/dist/single_process_communicator.hpp"
#include "gdpo/loss/objective.hpp"
#include "gdpo/model/model_config.hpp"
#include "gdpo/model/model_factory.hpp"
#include "gdpo/train/synthetic_batch.hpp"
#include "train/thread_world.hpp"

namespace gdpo::train {
namespace {

SyntheticBatchShape small_shape() {
  SyntheticBatchShape s;
  s.pairs = 3;
  s.prompt_tokens = 4;
  s.response_tokens = 5;
  s.belief_tokens = 2;
  s.beliefs = 4;
  return s;
}

TEST(SyntheticPairBatch, SpansAndBeliefsFollowTheBatchContract) {
  const auto s = small_shape();
  const int64_t V = 50, B = s.pairs, P = s.prompt_tokens, T = s.seq_len();
  const auto b = synthetic_pair_batch(s, V, 7);
  ASSERT_EQ(b.input_ids.sizes(), (std::vector<int64_t>{2 * B, T}));
  EXPECT_EQ(b.pairs(), B);
  EXPECT_EQ(b.tokens(), 2 * B * T);
  EXPECT_TRUE(((b.input_ids >= 0) & (b.input_ids < V)).all().item<bool>());
  EXPECT_TRUE(b.prompt_len.eq(P).all().item<bool>());
  EXPECT_TRUE(b.belief_len.eq(2).all().item<bool>());
  EXPECT_TRUE(b.seq_len.eq(T).all().item<bool>());
  EXPECT_TRUE(torch::allclose(b.target_probs.sum(1), torch::ones({B})));
  // The index of the pair's belief whose token opens row `row`'s response (-1: none).
  auto belief_of = [&](int64_t pair, int64_t row) {
    for (int64_t k = 0; k < s.beliefs; ++k)
      if (b.belief_token_ids[pair][k].item<int64_t>() == b.input_ids[row][P].item<int64_t>())
        return k;
    return int64_t{-1};
  };
  for (int64_t i = 0; i < B; ++i) {
    // The responses open with two different beliefs of the pair; they share the prompt.
    const int64_t c = belief_of(i, i), r = belief_of(i, B + i);
    ASSERT_TRUE(c >= 0 && r >= 0);
    EXPECT_NE(c, r);
    EXPECT_TRUE(b.input_ids[i].narrow(0, 0, P).equal(b.input_ids[B + i].narrow(0, 0, P)));
    std::set<int64_t> ids;
    for (int64_t k = 0; k < s.beliefs; ++k) ids.insert(b.belief_token_ids[i][k].item<int64_t>());
    EXPECT_EQ(static_cast<int64_t>(ids.size()), s.beliefs);
    EXPECT_EQ(b.chosen_is_majority[i].item<bool>(), c == b.target_probs[i].argmax().item<int64_t>());
  }
}

TEST(SyntheticPairBatch, DeterministicInTheSeed) {
  const auto s = small_shape();
  EXPECT_TRUE(synthetic_pair_batch(s, 50, 3).input_ids.equal(synthetic_pair_batch(s, 50, 3).input_ids));
  EXPECT_FALSE(synthetic_pair_batch(s, 50, 3).input_ids.equal(synthetic_pair_batch(s, 50, 4).input_ids));
}

TEST(SyntheticPairBatch, ImpossibleShapesAreUsageErrors) {
  auto s = small_shape();
  s.response_tokens = 1;  // shorter than the belief span
  EXPECT_THROW(synthetic_pair_batch(s, 50, 0), UsageError);
  s = small_shape();
  s.beliefs = 1;
  EXPECT_THROW(synthetic_pair_batch(s, 50, 0), UsageError);
  s = small_shape();
  EXPECT_THROW(synthetic_pair_batch(s, 3, 0), UsageError);  // K = 4 distinct ids in 3
}

TEST(SyntheticReference, SumsAreConsistent) {
  const auto b = synthetic_pair_batch(small_shape(), 50, 1);
  const auto r = synthetic_reference(b, 2);
  ASSERT_EQ(r.response.numel(), 2 * b.pairs());
  EXPECT_TRUE((r.after_belief > r.response).all().item<bool>());  // the belief span costs too
  EXPECT_TRUE((r.response < 0).all().item<bool>());
}

// The batch passes the objectives' own consistency checks and gives finite losses.
TEST(SyntheticPairBatch, AcceptedByEveryObjective) {
  const auto s = small_shape();
  const int64_t V = 50, H = 8;
  const auto b = synthetic_pair_batch(s, V, 5);
  const auto ref = synthetic_reference(b, 6);
  auto hidden = torch::randn({2 * s.pairs, s.seq_len(), H});
  auto weight = torch::randn({V, H});
  for (auto type : {loss::LossType::kSft, loss::LossType::kDpo, loss::LossType::kGdpo}) {
    loss::LossConfig c;
    c.type = type;
    auto out = loss::compute_objective(c, hidden, weight, b, ref);
    EXPECT_TRUE(std::isfinite(out.loss.item<double>())) << loss::loss_type_name(type);
  }
}

// A tiny GPT-2 (random weights, seed 1), a synthetic batch of 4 pairs and its reference.
struct StepFixture {
  model::CausalLMPtr policy = model::build_model(model::load_model_config("tiny-gpt2"), 1);
  SyntheticBatchShape shape = [] {
    SyntheticBatchShape s = small_shape();
    s.pairs = 4;
    return s;
  }();
  data::PairBatch batch = synthetic_pair_batch(shape, 256, 11);
  loss::ReferenceLogprobs reference = synthetic_reference(batch, 12);
  std::shared_ptr<dist::Communicator> comm = std::make_shared<dist::SingleProcessCommunicator>();
  TrainConfig train = [] {
    TrainConfig t;
    t.lr = 1e-3;
    t.warmup_steps = 0;
    return t;
  }();
  loss::LossConfig loss;  // GDPO

  // Every micro-batch's reference rows, looked up by the batch's example indices.
  ReferenceSource source() const {
    return [this](const data::PairBatch& mb) {
      auto rows = torch::tensor(mb.example_index);
      auto both = torch::cat({rows, rows + batch.pairs()});
      loss::ReferenceLogprobs r;
      r.after_belief = reference.after_belief.index_select(0, both);
      r.response = reference.response.index_select(0, both);
      return r;
    };
  }
  std::vector<torch::Tensor> weights() const {
    std::vector<torch::Tensor> out;
    for (const auto& [name, p] : policy->hf_state_dict()) out.push_back(p.detach().clone());
    return out;
  }
};

double max_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, (a[i] - b[i]).abs().max().item<double>());
  return d;
}

TEST(TrainStep, UpdatesTheWeightsAndReportsTheStep) {
  StepFixture f;
  const auto before = f.weights();
  TrainStep step(*f.policy, f.train, f.loss, f.comm);
  const StepResult r = step.run(f.batch, 0, f.source());
  EXPECT_GT(max_difference(before, f.weights()), 0.0);
  for (const char* m : {"loss", "loss.calibration", "loss.belief_nll", "loss.preference",
                        "rewards.accuracy", "grad_norm", "lr"})
    EXPECT_EQ(r.metrics.count(m), 1u) << m;
  EXPECT_GT(r.metrics.at("grad_norm"), 0.0);
  EXPECT_DOUBLE_EQ(r.metrics.at("lr"), 1e-3);
  EXPECT_EQ(r.tokens, f.batch.tokens());
  EXPECT_EQ(step.optimizer().steps(), 1);
}

TEST(TrainStep, WarmupScalesTheLearningRate) {
  StepFixture f;
  f.train.warmup_steps = 4;
  TrainStep step(*f.policy, f.train, f.loss, f.comm);
  // The authors' LambdaLR: lr min(1, (step + 1) / (warmup + 1)).
  EXPECT_DOUBLE_EQ(step.run(f.batch, 0, f.source()).metrics.at("lr"), 1e-3 / 5);
}

// One micro-batch of 4 pairs and two of 2 compute the same mean loss, gradient and step.
TEST(TrainStep, AccumulationEqualsOneMicroBatch) {
  StepFixture one, two;
  two.train.grad_accum = 2;
  TrainStep a(*one.policy, one.train, one.loss, one.comm);
  TrainStep b(*two.policy, two.train, two.loss, two.comm);
  const auto ra = a.run(one.batch, 0, one.source());
  const auto rb = b.run(two.batch, 0, two.source());
  EXPECT_NEAR(ra.metrics.at("loss"), rb.metrics.at("loss"), 1e-5 * std::abs(ra.metrics.at("loss")));
  EXPECT_NEAR(ra.metrics.at("grad_norm"), rb.metrics.at("grad_norm"),
              1e-5 * ra.metrics.at("grad_norm"));
  // The gradients themselves (kept after the step) are equal up to float32 summation order. The
  // weights after one RMSprop step are not a fair comparison: its first step moves a weight by
  // about 10 x lr whatever the size of its gradient, so rounding noise in a near-zero gradient
  // becomes a full step.
  double largest = 0, diff = 0;
  for (size_t i = 0; i < a.parameters().size(); ++i) {
    const auto& ga = a.parameters()[i].grad();
    const auto& gb = b.parameters()[i].grad();
    largest = std::max(largest, ga.abs().max().item<double>());
    diff = std::max(diff, (ga - gb).abs().max().item<double>());
  }
  EXPECT_LT(diff, 1e-5 * largest);
}

// The benchmark's timed path (backward split at the hidden states) is the same step.
TEST(TrainStep, TimedPhasesComputeTheSameStep) {
  StepFixture plain, timed;
  TrainStep a(*plain.policy, plain.train, plain.loss, plain.comm);
  TrainStep b(*timed.policy, timed.train, timed.loss, timed.comm);
  StepPhases phases;
  const auto ra = a.run(plain.batch, 0, plain.source());
  const auto rb = b.run(timed.batch, 0, timed.source(), &phases);
  EXPECT_DOUBLE_EQ(ra.metrics.at("loss"), rb.metrics.at("loss"));
  EXPECT_NEAR(ra.metrics.at("grad_norm"), rb.metrics.at("grad_norm"),
              1e-6 * ra.metrics.at("grad_norm"));
  EXPECT_LT(max_difference(plain.weights(), timed.weights()), 1e-7);
  EXPECT_GT(phases.forward, 0.0);
  EXPECT_GT(phases.model_backward, 0.0);
  EXPECT_GT(phases.optimizer, 0.0);
  EXPECT_NEAR(phases.total(),
              phases.forward + phases.objective + phases.objective_backward +
                  phases.model_backward + phases.gradient_sync + phases.clip + phases.optimizer,
              1e-12);
}

// Two ranks (threads of this process): the gradient all-reduce overlapped with the backward takes
// the same steps, bit for bit, as averaging after it, and the ranks agree. (tests/train/
// mpi_train_step_test.cpp checks the same under mpiexec.)
TEST(TrainStep, OnTwoRanksOverlapTakesTheSameStepsBitwise) {
  for (int64_t accum : {1, 2}) {
    // Models and batches built here, not in the rank threads (the model's seeded initialisation).
    std::vector<std::unique_ptr<StepFixture>> plain, overlapped;
    for (int r = 0; r < 2; ++r)
      for (auto* side : {&plain, &overlapped}) {
        auto f = std::make_unique<StepFixture>();
        f->batch = synthetic_pair_batch(f->shape, 256, 11 + 100 * r);  // the ranks' data differ
        f->reference = synthetic_reference(f->batch, 12 + 100 * r);
        f->train.grad_accum = accum;
        side->push_back(std::move(f));
      }
    std::vector<std::vector<StepResult>> results_plain(2), results_overlapped(2);
    std::vector<int> overlaps(2);
    auto errors = test_ranks::on_two_ranks([&](dist::Communicator& comm) {
      const int r = comm.rank();
      std::shared_ptr<dist::Communicator> shared(&comm, [](dist::Communicator*) {});
      auto& p = *plain[r];
      auto& o = *overlapped[r];
      TrainStep a(*p.policy, p.train, p.loss, shared);
      a.set_overlap(false);
      TrainStep b(*o.policy, o.train, o.loss, shared);
      overlaps[r] = (a.overlap() ? 10 : 0) + (b.overlap() ? 1 : 0);
      for (int64_t step = 0; step < 2; ++step) {
        results_plain[r].push_back(a.run(p.batch, step, p.source()));
        results_overlapped[r].push_back(b.run(o.batch, step, o.source()));
      }
    });
    ASSERT_EQ(errors, (std::vector<std::string>{"", ""}));
    EXPECT_EQ(overlaps, (std::vector<int>{1, 1}));
    for (int r = 0; r < 2; ++r) {
      EXPECT_EQ(max_difference(plain[r]->weights(), overlapped[r]->weights()), 0.0) << r;
      for (size_t s = 0; s < 2; ++s) {
        EXPECT_EQ(results_plain[r][s].metrics.at("loss"), results_overlapped[r][s].metrics.at("loss"));
        EXPECT_EQ(results_plain[r][s].metrics.at("grad_norm"),
                  results_overlapped[r][s].metrics.at("grad_norm"));
        EXPECT_EQ(results_plain[r][s].tokens, results_overlapped[r][s].tokens);
      }
    }
    EXPECT_EQ(max_difference(overlapped[0]->weights(), overlapped[1]->weights()), 0.0);
    EXPECT_EQ(results_overlapped[0][1].metrics.at("loss"), results_overlapped[1][1].metrics.at("loss"));
    EXPECT_EQ(results_overlapped[0][0].tokens,
              plain[0]->batch.tokens() + plain[1]->batch.tokens());
  }
}

TEST(TrainStep, AStepThatDoesNotSplitIntoMicroBatchesIsAnError) {
  StepFixture f;
  f.train.grad_accum = 3;  // 4 pairs
  TrainStep step(*f.policy, f.train, f.loss, f.comm);
  EXPECT_THROW(step.run(f.batch, 0, f.source()), Error);
}

// A loss that is infinite while its gradient is finite: a reference log-prob of -inf on every
// rejected row makes each margin (pi_c - ref_c) - (pi_r - ref_r) = -inf, so the loss
// -logsigmoid(beta * margin) = inf while its derivative, -beta * sigmoid(-beta * margin) = -beta, is
// finite. The step still stops before the update, naming the loss, and leaves the weights alone.
TEST(TrainStep, AnInfiniteLossWithAFiniteGradientStopsBeforeTheUpdate) {
  for (const auto type : {loss::LossType::kGdpo, loss::LossType::kDpo, loss::LossType::kCdpo}) {
    for (int64_t accum : {1, 2}) {
      StepFixture f;
      f.loss.type = type;
      f.train.grad_accum = accum;
      const int64_t B = f.batch.pairs();
      using torch::indexing::Slice;
      f.reference.after_belief.index_put_({Slice(B, 2 * B)}, -INFINITY);
      f.reference.response.index_put_({Slice(B, 2 * B)}, -INFINITY);
      const auto before = f.weights();
      TrainStep step(*f.policy, f.train, f.loss, f.comm);
      try {
        step.run(f.batch, 4, f.source());
        ADD_FAILURE() << "no NonFiniteError";
      } catch (const NonFiniteError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("step 5: the loss is not finite"), std::string::npos) << what;
      }
      EXPECT_EQ(max_difference(before, f.weights()), 0.0);
      EXPECT_EQ(step.optimizer().steps(), 0);
      // The gradient really is finite: this is the loss-only path.
      for (const auto& p : step.parameters())
        if (p.grad().defined()) {
          EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>());
        }
    }
  }
}

}  // namespace
}  // namespace gdpo::train
