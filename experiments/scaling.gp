# scaling.gp - ms/image and parallel efficiency against the thread count, from the CSV that
# `bench_engine --threads 1,2,...,N --batches B --csv FILE` writes (one batch size).
# Variables: term, out, csv.
if (term eq "pdf") { set terminal pdfcairo size 8, 3.2 font "Sans,9" } else { set terminal pngcairo size 1000, 400 font "Sans,10" }
set termoption noenhanced
set output out
set datafile separator ","
stats csv skip 1 every ::0::0 using 5 nooutput
one_thread = STATS_min
set multiplot layout 1, 2 title "xaibench engine scaling (bench_engine; three maps share one forward)"
set grid
set xlabel "threads"
set xtics 1
set key top right
set ylabel "ms per image"
set title "time"
plot csv using 2:5 skip 1 with linespoints pt 7 title "forward + 3 maps", \
     csv using 2:3 skip 1 with linespoints pt 5 title "forward"
set ylabel "parallel efficiency"
set yrange [0:1.1]
set title "efficiency = t(1) / (threads x t(threads))"
plot csv using 2:(one_thread / ($2 * $5)) skip 1 with linespoints pt 7 title "forward + 3 maps"
unset multiplot
