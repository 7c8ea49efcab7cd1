// `modnorm inspect` (inspect.hpp): the model is the checkpoint's metadata 'model' (an MLP's when
// it has none).
#include "cli/inspect.hpp"

#include <iostream>

#include "cli/classifier.hpp"
#include "cli/lm.hpp"

namespace modnorm::cli {

int run_inspect(const std::string& path) {
  const SafetensorsFile file = load_safetensors(path);
  const auto model = file.metadata.find("model");
  std::string description;
  Module net = model != file.metadata.end() && model->second == "gpt"
                   ? load_gpt(file, path, description)
                   : load_classifier(file, path, description);
  std::cout << path << ": " << description;
  if (const auto it = file.metadata.find("optimizer"); it != file.metadata.end())
    std::cout << " of " << it->second;
  std::cout << "\n" << net << "\n" << report(net);
  return 0;
}

}  // namespace modnorm::cli
