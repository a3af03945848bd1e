// SPDX-License-Identifier: MIT
// strata-predict: runs a Keras model file with strata on .npy or .csv inputs and writes the
// outputs as .npy or .csv (or prints a short summary of them). `strata-predict --help` says how.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <strata/io.hpp>
#include <strata/io/csv.hpp>
#include <strata/io/npy.hpp>
#include <string>
#include <vector>

namespace {

const char* const usage_line =
    "Usage: strata-predict MODEL INPUT [INPUT ...] [-o OUTPUT] [--summary] [--double]\n"
    "                      [--no-isolation] [--load-timeout SECONDS]\n"
    "       strata-predict --summary MODEL\n"
    "       strata-predict --help\n";

const char* const help_text =
    "\n"
    "Runs a Keras model with strata: loads MODEL, reads one INPUT per model input (in the model's\n"
    "input order), predicts, and writes the outputs to OUTPUT or prints a summary of them.\n"
    "\n"
    "MODEL   a Keras model file: .keras (Keras 3), .h5 (legacy HDF5), or a TF.js model.json\n"
    "        with its weight shards beside it.\n"
    "INPUT   a .npy or .csv file holding one input tensor, the batch axis first:\n"
    "        .npy  a numpy array as np.save writes it: format 1.0, 2.0 or 3.0, dtype f4 f8 i1 i2\n"
    "              i4 i8 u1 u2 u4 u8 or b1 (any byte order), C order, rank 1 to 8.\n"
    "        .csv  a 2-D tensor (N, F): N lines of F comma-separated numbers; or a 3-D tensor\n"
    "              (B, T, F): B blocks of T such lines, blocks separated by one empty line. No\n"
    "              header row. Read as 3-D when the model's input is 3-D (even with one block).\n"
    "\n"
    "Options:\n"
    "  -o, --output OUTPUT  write the outputs to OUTPUT, whose extension chooses the format:\n"
    "                       .npy (float32; float64 with --double) or .csv (2-D and 3-D outputs\n"
    "                       only; numbers with enough digits to read back exactly). A model with\n"
    "                       several outputs writes the first to OUTPUT and output k (k >= 2) to\n"
    "                       OUTPUT with _k before the extension: out.npy, out_2.npy, out_3.npy...\n"
    "                       Without -o, each output's name, shape and first values are printed.\n"
    "      --summary        print the model summary (layers, output shapes, parameter counts);\n"
    "                       with no INPUT, only that.\n"
    "      --double         load and run the model in double precision (default: float).\n"
    "      --no-isolation   read the model's HDF5 part (.h5, and the weights inside .keras) in\n"
    "                       this process. By default it is read in a child process with a time\n"
    "                       limit and a memory limit, so that a corrupt or malicious file that\n"
    "                       crashes or hangs the HDF5 library is an error, not a crash or hang\n"
    "                       (it costs a few milliseconds per load). Use it only for files you trust.\n"
    "      --load-timeout SECONDS\n"
    "                       the time limit of that child process (default 60).\n"
    "  -h, --help           print this help.\n"
    "\n"
    "Exit status: 0 success, 1 model or data error, 2 usage error. Errors go to stderr.\n"
    "\n"
    "Example:\n"
    "  strata-predict model.keras x.npy -o y.npy\n";

/// A command line that cannot be run: exit code 2.
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Options {
  std::string model;
  std::vector<std::string> inputs;
  std::string output;  // empty: print a summary of the outputs
  bool summary = false;
  bool use_double = false;
  bool help = false;
  strata::LoadOptions load = strata::LoadOptions().isolation(true);
};

/// ".npy", ".csv" (lower-cased), or "" for anything else.
std::string format_of(const std::string& path) {
  const std::size_t slash = path.find_last_of("/\\");
  const std::size_t dot = path.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".npy" || ext == ".csv" ? ext : "";
}

Options parse_arguments(int argc, char** argv) {
  Options o;
  bool options_done = false;
  bool have_output = false;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (options_done || arg.size() < 2 || arg[0] != '-') {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
    } else if (arg == "-h" || arg == "--help") {
      o.help = true;
    } else if (arg == "--summary") {
      o.summary = true;
    } else if (arg == "--double") {
      o.use_double = true;
    } else if (arg == "--no-isolation") {
      o.load.isolation(false);
    } else if (arg == "--load-timeout" || arg.rfind("--load-timeout=", 0) == 0) {
      std::string value;
      if (arg.rfind("--load-timeout=", 0) == 0) {
        value = arg.substr(15);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        throw usage_error(arg + " needs a number of seconds");
      }
      char* end = nullptr;
      const double seconds = std::strtod(value.c_str(), &end);
      if (value.empty() || end != value.c_str() + value.size() || !(seconds > 0) || seconds > 1e6) {
        throw usage_error("--load-timeout needs a positive number of seconds (at most 1e6), not '" + value + "'");
      }
      o.load.timeout(seconds);
    } else if (arg == "-o" || arg == "--output" || arg.rfind("--output=", 0) == 0) {
      if (have_output) throw usage_error("-o/--output given twice");
      if (arg.rfind("--output=", 0) == 0) {
        o.output = arg.substr(9);
      } else if (i + 1 < argc) {
        o.output = argv[++i];
      } else {
        throw usage_error(arg + " needs a file name");
      }
      if (o.output.empty()) throw usage_error(arg + " needs a file name");
      have_output = true;
    } else {
      throw usage_error("unknown option '" + arg + "'");
    }
  }
  if (o.help) return o;
  if (positional.empty()) throw usage_error("no MODEL given");
  o.model = positional[0];
  o.inputs.assign(positional.begin() + 1, positional.end());
  if (o.inputs.empty() && !o.summary) throw usage_error("no INPUT given (or use --summary to print the model)");
  if (have_output && o.inputs.empty()) throw usage_error("-o needs INPUT files to predict from");
  for (const std::string& input : o.inputs) {
    if (format_of(input).empty()) throw usage_error("INPUT '" + input + "' must be a .npy or .csv file");
  }
  if (have_output && format_of(o.output).empty()) {
    throw usage_error("OUTPUT '" + o.output + "' must end in .npy or .csv");
  }
  return o;
}

/// OUTPUT for output 0, OUTPUT with "_k" before its extension for output k-1 (k >= 2).
std::string output_path(const std::string& output, std::size_t index) {
  if (index == 0) return output;
  const std::size_t dot = output.rfind('.');  // parse_arguments checked that there is an extension
  return output.substr(0, dot) + "_" + std::to_string(index + 1) + output.substr(dot);
}

std::string declared_string(const std::vector<strata::Index>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += shape[i] < 0 ? std::string("None") : std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

template <class T>
strata::AnyTensor<T> read_input(const std::string& path, const std::vector<strata::Index>& declared) {
  if (format_of(path) == ".npy") return strata::io::read_npy<T>(path);
  const int rank = declared.size() == 2 || declared.size() == 3 ? static_cast<int>(declared.size()) : 0;
  return strata::io::read_csv<T>(path, rank);
}

/// Throws if `shape` contradicts the model's declared input shape (None matches anything).
void check_input_shape(const strata::Shape& shape, const std::vector<strata::Index>& declared, std::size_t index,
                       const std::string& name, const std::string& path) {
  bool ok = static_cast<std::size_t>(shape.rank()) == declared.size();
  for (int d = 0; ok && d < shape.rank(); ++d) {
    const strata::Index want = declared[static_cast<std::size_t>(d)];
    ok = want < 0 || want == shape[d];
  }
  if (!ok) {
    throw strata::shape_error("input " + std::to_string(index + 1) + " ('" + name + "') from '" + path +
                              "' has shape " + shape.to_string() + "; the model expects " + declared_string(declared));
  }
}

template <class T>
void print_output(std::ostream& out, std::size_t index, std::size_t count, const std::string& name,
                  const strata::AnyTensor<T>& t) {
  out << "output " << index + 1 << " of " << count << " '" << name << "': shape " << t.shape().to_string() << ", "
      << (std::is_same_v<T, float> ? "float32" : "float64") << "\n";
  const auto n = static_cast<std::size_t>(t.size());
  const T* p = t.data();
  std::ostringstream line;
  line.precision(6);
  line << "  [";
  const std::size_t head = n <= 10 ? n : 8;
  for (std::size_t i = 0; i < head; ++i) line << (i > 0 ? ", " : "") << p[i];
  if (n > 10) line << ", ..., " << p[n - 2] << ", " << p[n - 1];
  line << "]";
  if (n > 0) {
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    double sum = 0;
    std::size_t nan = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double v = static_cast<double>(p[i]);
      if (std::isnan(v)) {
        ++nan;
        continue;
      }
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      sum += v;
    }
    line << "  (" << n << " values";
    if (nan < n) line << "; min " << lo << ", max " << hi << ", mean " << sum / static_cast<double>(n - nan);
    if (nan > 0) line << "; " << nan << " NaN";
    line << ")";
  }
  out << line.str() << "\n";
}

template <class T>
int run(const Options& o) {
  strata::Model<T> model = strata::load_model<T>(o.model, o.load);
  if (o.summary) {
    const std::string s = model.summary();
    std::cout << s << (s.empty() || s.back() != '\n' ? "\n" : "");
  }
  if (o.inputs.empty()) return 0;

  const std::vector<std::string> names = model.input_names();
  const std::vector<std::vector<strata::Index>> declared = model.input_shapes();
  if (o.inputs.size() != model.input_count()) {
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
    throw strata::value_error("the model has " + std::to_string(model.input_count()) + " input(s) (" + list +
                              "); got " + std::to_string(o.inputs.size()) + " INPUT file(s)");
  }
  std::vector<strata::AnyTensor<T>> inputs;
  for (std::size_t i = 0; i < o.inputs.size(); ++i) {
    inputs.push_back(read_input<T>(o.inputs[i], declared[i]));
    check_input_shape(inputs.back().shape(), declared[i], i, names[i], o.inputs[i]);
  }

  const std::vector<strata::AnyTensor<T>> outputs = model.predict(inputs);
  const std::vector<std::string> output_names = model.output_names();
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    if (o.output.empty()) {
      print_output(std::cout, k, outputs.size(), k < output_names.size() ? output_names[k] : "?", outputs[k]);
      continue;
    }
    const std::string path = output_path(o.output, k);
    if (format_of(path) == ".npy") {
      strata::io::write_npy(path, outputs[k]);
    } else {
      strata::io::write_csv(path, outputs[k]);
    }
  }
  std::cout.flush();
  if (!std::cout) throw std::runtime_error("writing to stdout failed");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parse_arguments(argc, argv);
  } catch (const usage_error& e) {
    std::cerr << "strata-predict: " << e.what() << "\n" << usage_line << "Try 'strata-predict --help' for more.\n";
    return 2;
  }
  if (options.help) {
    std::cout << usage_line << help_text;
    return 0;
  }
  try {
    return options.use_double ? run<double>(options) : run<float>(options);
  } catch (const std::exception& e) {
    std::cerr << "strata-predict: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "strata-predict: unknown error\n";
  }
  return 1;
}
