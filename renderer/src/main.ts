document.title = 'Berth';
