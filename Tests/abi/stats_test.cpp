// Table 2 and Figure 4 through the C++ wrappers: prints the table's JSON, writes the figure.
// usage: stats_test TRAIN_ANNOTATIONS TRAIN_IMAGE_LABELS TRAIN_IMAGES TEST_IMAGE_LABELS FIGURE
#include <iostream>

#include "vindr.hpp"

int main(int argc, char **argv) {
    if (argc != 6) {
        std::cerr << "usage: stats_test TRAIN_ANNOTATIONS TRAIN_IMAGE_LABELS TRAIN_IMAGES TEST_IMAGE_LABELS FIGURE\n";
        return 64;
    }
    try {
        vindr::Annotations train(argv[1]);
        train.add(argv[2]);
        vindr::Annotations test(argv[4]);
        std::cout << vindr::table2(&train, argv[3], &test, "", VDR_STATS_JSON);
        vindr::plot_label_distribution(argv[5], &train, &test);
        try {
            vindr::table2(nullptr, "", nullptr, "");
            std::cerr << "no error for an empty table\n";
            return 1;
        } catch (const vindr::Error &e) {
            std::cerr << e.what() << "\n";
        }
    } catch (const vindr::Error &e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    return 0;
}
