// Training data for the offline belief judge that scores belief-preference consistency (the
// authors ask GPT-4o "does the answer express the opinion of the selection"). A judge example asks
// which belief a response expresses: the question's prompt followed by `<R>` and the response text
// (without its belief span), answered by the belief span `{id}<{option}>`. A causal LM trained on
// these with SFT classifies through its K belief tokens after the prompt, the same readout as the
// policy's belief distribution (loss/belief_distribution), so no new head or loss is needed.
#pragma once
#include <string>

#include "gdpo/data/record.hpp"

namespace gdpo::data {

// The judge's question for `response`: q with prompt
// "{q.prompt}<O>{id_0}<{option_0}>...<O>{id_K-1}<{option_K-1}><R>{response}" (context, options and
// ids unchanged) and p* one-hot on `belief`.
Question judge_question(const Question& q, const std::string& response, int64_t belief);

// One example per distinct (question, belief, response) of `data`: every pair's chosen response
// with its belief, and its rejected response with the rejected belief (a response always carries
// the belief it was written for, in both pair modes). The rejected side of each example is the next
// belief (SFT ignores it; the schema needs one). Questions keep their order; examples whose response
// is empty are left out (counted in `skipped`).
Dataset make_judge_data(const Dataset& data);

}  // namespace gdpo::data
