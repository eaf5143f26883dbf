// How the layers of a model run together: the KernelSpec of every layer for one batch size
// and mode. This is the one place that knows about pairs of neighbouring layers (the layers
// themselves know nothing of their neighbours):
//  - output trimming: a pooling layer whose windows do not reach its input's last rows or
//    columns (MaxPool 2x2 over 11x11 reads 10x10) lets the Conv2D before it compute only the
//    part it reads (17% less work for the seed's conv2); results are unchanged and the
//    declared shapes (summary, export) stay the full ones. The trimming runs further back,
//    through poolings and convolutions without padding, so that the parts pass between
//    layers without a copy (the seed: pool1 computes 12x12 of 13x13, conv1 24x24 of
//    26x26); what no later layer reads has no gradient either, so training is unchanged;
//  - an inference arrangement says no backward follows (KernelSpec::backward): max pooling
//    keeps no positions;
//  - ReLU fusion in backward: max pooling of a fused ReLU's output sends gradient only to
//    window maxima, so masking the pooled gradient where the pooled output is 0 equals
//    masking the full-size gradient, at a quarter of the memory traffic;
//  - precision: with Precision::bf16, training kernels of Dense layers and of Conv2D layers
//    over 8 or more input channels multiply in bf16; the rest stay fp32;
//  - frozen layers: in a Mode::train arrangement, the first `frozen_layers` layers (fixed
//    while the rest train: fine-tuning) run as in inference, Mode::infer and fp32: BatchNorm
//    normalises with its moving statistics, Dropout passes everything through.
#pragma once

#include <vector>

#include "imgcls/model.hpp"
#include "layers/kernel.hpp"

namespace imgcls::plan {

// One spec per layer of `model`, in order. frozen_layers <= the layer count; only a
// Mode::train arrangement has frozen layers.
std::vector<KernelSpec> arrange(const Sequential& model, std::int64_t batch, Mode mode,
                                Precision precision, std::size_t frozen_layers = 0);

}  // namespace imgcls::plan
