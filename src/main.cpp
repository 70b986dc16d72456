#include "control/app.hpp"

int main(int argc, char** argv) { return ioamfwd::cp::run_app(argc, argv); }
